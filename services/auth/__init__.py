"""The auth service: login (password check, token issue) and token verification."""
