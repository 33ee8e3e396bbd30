"""Who may use NetWarden: users (:mod:`.users`: argon2 passwords, roles, TOTP, login lockout) and their login
sessions and API tokens (:mod:`.sessions`). Both the web application and ``netwarden user`` use them; nothing
here knows about HTTP."""
