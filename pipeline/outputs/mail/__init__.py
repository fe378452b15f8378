"""Mail to the units: the wording, the MIME messages, the drafts on disk, and sending them over SMTP."""
