"""Enterprise onboarding: applications, their licence uploads, email tokens."""
