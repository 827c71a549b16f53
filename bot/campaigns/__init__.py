"""Campaigns: community managers reach a segment of members, in their language and local
time, through the same outbox, sender and due-work table as everything else.

`planning` previews and plans (one SQL query per segment, recipient rows frozen in
batches), `delivery` feeds the outbox at each platform's pace and records outcomes,
`manage` cancels, retries and reports. `bot.features` registers `delivery` (its timers) and
`commands` (`/campaign` in chat).
"""
