"""The user service: profiles and activity, read through the db service."""
