"""The gateway: the edge API that authenticates every call and fans out to user."""
