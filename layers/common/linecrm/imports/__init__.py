"""Importing existing friends: LINE's followers list, or a CSV of user ids with tags and
fields, as a job that runs in resumable steps (see ``docs/import.md``)."""
