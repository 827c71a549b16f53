"""Recognition: kudos with anti-abuse rules, leaderboards and badges.

`bot.features` imports its modules, which registers `/kudos`, `/badges` and the
`award_badge` flow action.
"""
