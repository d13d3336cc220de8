"""The admin API (``/admin/…``): friends, tags, fields, rules, chat mode, settings.

``api.build_app`` assembles the Powertools resolver from one router per concern;
``services`` holds the logic that is more than a repository call (resolving tag names,
checking field values against their definitions, rule set diffs), one module per router.
"""
