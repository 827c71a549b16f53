"""Campaigns: community managers reach a segment of members, in their language and local
time, through the same outbox, sender and due-work table as everything else.

`segments` turns a segment into one SQL query, `previewing` counts who would receive a
campaign, `planning` sends it (recipient rows frozen in batches; `timing` is what is frozen
and when each member is sent), `delivery` feeds the outbox at each platform's pace and
records outcomes, `manage` cancels, retries and reports. `bot.features` registers `delivery`
(its timers) and `commands` (`/campaign` in chat, worded by `chat_views`).
"""
