"""The frontend: the public edge, HTML for people and ``/api/*`` JSON for Locust."""
