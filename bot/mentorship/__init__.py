"""Mentorship: mentor sign-up, offers with accept/decline, introductions and check-ins.

`bot.features` calls each module's `register(registry)`, which adds the flow actions
(`save_mentor_profile`, `match_mentor`, `accept_offer`, `decline_offer`, `record_checkin`),
the `/mentor` command and the timers. Everything a step decides is written in the turn's
transaction, messages to the other person included (`Turn.others`), so a crash loses nothing
and a replay sends nothing twice.
"""
