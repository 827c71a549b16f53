"""Recognition: kudos with anti-abuse rules, leaderboards and badges.

`bot.features` calls each module's `register(registry)`, which adds `/kudos`, `/badges`,
the `award_badge` flow action and the badges counted when a flow is completed.
"""
