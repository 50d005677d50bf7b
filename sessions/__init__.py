"""Session state and policy: participants, credentials, cookie jar, stores. Never imports proxy/."""
