"""What every labcloud REST API shares: the app factory with OpenStack's error bodies, token
validation through identity, a uvicorn server in a thread, and the traced HTTP client one
service uses to reach another."""
