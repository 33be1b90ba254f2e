"""Domain operations of onboarding: applications and review, members and invitations,
logins, profile changes. No HTTP."""
