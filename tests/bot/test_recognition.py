"""Recognition end to end through the memory adapter: kudos, every rule, leaderboards,
badges and revocation."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from adapters.memory import Chat, MemoryAdapter
from bot.runtime import Onramp
from bot.settings import Settings
from storage.models import AuditLog, BadgeAward, Identity, Kudos, Member
from tests.bot.test_cli import onramp as cli
from tests.conftest import FakeClock


async def person(
    onramp: Onramp, memory: MemoryAdapter, user: str, name: str, **fields: Any
) -> Chat:
    chat = Chat(memory, user=user, display_name=name)
    await chat.say("/help")
    chat.skip()
    if fields:
        async with onramp.db.transaction() as session:
            member = (
                await session.execute(select(Member).where(Member.display_name == name))
            ).scalar_one()
            for key, value in fields.items():
                setattr(member, key, value)
    return chat


async def kudos_rows(onramp: Onramp) -> list[Kudos]:
    async with onramp.db.reading() as session:
        return list((await session.execute(select(Kudos).order_by(Kudos.id))).scalars())


async def test_kudos_thank_the_giver_tell_the_receiver_and_earn_badges(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    ada = await person(onramp, memory, "ada", "Ada")
    bea = await person(onramp, memory, "bea", "Bea", locale="fr")
    await ada.say("/kudos [Bea](member:bea) for translating the install guide #translation")
    ada.expect("Thank you for recognising Bea (🌍 Translation)! I've told them.")
    ada.expect("You've earned a badge: 🌱 First thanks")
    bea.expect("Ada vous remercie : translating the install guide (🌍 Traduction).")
    [row] = await kudos_rows(onramp)
    assert (row.category, row.reason, row.weight) == (
        "translation",
        "translating the install guide",
        1.0,
    )
    await bea.say("/kudos")
    bea.expect("Vous avez reçu 1 remerciement, et en avez adressé 0.", "🌍 Traduction: 1")
    await ada.say("/badges")
    listing = ada.expect("Your badges (1 earned):", "✅ 🌱 First thanks", "🌟 Appreciated")
    assert "(0/5)" in listing.text


async def test_every_rule_refuses_with_its_reason_and_records_nothing(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    ada = await person(onramp, memory, "ada", "Ada")
    await person(onramp, memory, "bea", "Bea")
    await person(onramp, memory, "cy1", "Cy")
    await person(onramp, memory, "cy2", "Cy")
    await person(onramp, memory, "gone", "Gus", opted_out=True)
    refusals = {
        "/kudos @ada for being myself all day": "you can't give yourself one",
        "/kudos @Zed for the lovely release notes": "I don't know Zed here yet",
        "/kudos @Cy for the lovely release notes": "2 people here are called Cy",
        "/kudos @Gus for the lovely release notes": "Gus has asked me not to send them messages",
        "/kudos @bea for it": "in at least 10 characters",
        "/kudos @bea for " + "x" * 10_000: "keep it under 500 characters",
        "/kudos @bea for the lovely release notes #cooking": "I don't know the category #cooking",
        "/kudos for the lovely release notes": "mention them and say what for",
        "/kudos @bea": "in at least 10 characters",
    }
    for typed, why in refusals.items():
        await ada.say(typed)
        ada.expect(why)
    assert await kudos_rows(onramp) == []
    for n in range(3):
        await ada.say(f"/kudos @bea for review number {n} of the API #code")
        ada.expect("Thank you for recognising Bea")
        if n == 0:
            ada.expect("You've earned a badge: 🌱 First thanks")
    await ada.say("/kudos @bea for yet another careful review #code")
    ada.expect("You've thanked Bea 3 times this week already")
    for name in ("Dee", "Eve"):
        await person(onramp, memory, name.lower(), name)
    await ada.say("/kudos @dee for organising the community call #organizing")
    ada.expect("Thank you for recognising Dee")
    await ada.say("/kudos @eve for the fundraising letter draft #fundraising")
    ada.expect("Thank you for recognising Eve")
    await ada.say("/kudos @eve for proofreading the fundraising letter #fundraising")
    ada.expect("You've given 5 kudos today, the most for one day")
    assert len(await kudos_rows(onramp)) == 5
    clock.advance(days=1, seconds=1)
    await ada.say("/kudos @eve for proofreading the fundraising letter #fundraising")
    ada.expect("Thank you for recognising Eve")


async def test_thanking_each_other_over_and_over_counts_less(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    ada = await person(onramp, memory, "ada", "Ada")
    bea = await person(onramp, memory, "bea", "Bea")
    for n in range(2):
        await ada.say(f"/kudos @bea for the pull request number {n}")
        ada.expect("Thank you")
        if n == 0:
            ada.expect("First thanks")
        bea.expect("Ada thanked you")
        await bea.say(f"/kudos @ada for the careful review number {n}")
        bea.expect("Thank you")
        if n == 0:
            bea.expect("First thanks")
        ada.expect("Bea thanked you")
        clock.advance(hours=1)
    clock.advance(days=7)  # past the weekly cap, inside the 14-day window
    await ada.say("/kudos @bea for the third pull request")
    ada.expect("Thank you for recognising Bea", "counts a little less on the leaderboard")
    weights = [k.weight for k in await kudos_rows(onramp)]
    assert weights == [1.0, 1.0, 1.0, 1.0, 0.5]
    await ada.say("/kudos top all")
    board = ada.expect("Most thanked of all time")
    assert "🥇 Bea: 2.5" in board.text and "🥈 Ada: 2" in board.text


async def test_leaderboards_rank_ties_together_by_period_and_category(
    onramp: Onramp, memory: MemoryAdapter, clock: FakeClock
) -> None:
    ada = await person(onramp, memory, "ada", "Ada")
    names = ["Bea", "Cai", "Dee", "Eve"]
    for name in names:
        await person(onramp, memory, name.lower(), name)
    givers = [await person(onramp, memory, f"g{n}", f"Giver {n}") for n in range(4)]
    await ada.say("/kudos top")
    ada.expect("Most thanked in the last 30 days", "Nobody yet")
    # Bea and Cai 2 each (code), Dee 1 (docs); Eve 1 but 40 days ago.
    await givers[0].say("/kudos @eve for the old migration guide #docs")
    clock.advance(days=40)
    for giver, name, category in (
        (givers[0], "bea", "code"),
        (givers[1], "bea", "code"),
        (givers[0], "cai", "code"),
        (givers[2], "cai", "code"),
        (givers[3], "dee", "docs"),
    ):
        await giver.say(f"/kudos @{name} for a very helpful contribution #{category}")
    await ada.say("/kudos top month")
    board = ada.expect("Most thanked in the last 30 days").text.splitlines()
    assert board[1:] == ["🥇 Bea: 2", "🥇 Cai: 2", "🥉 Dee: 1"]
    await ada.say("/kudos top all #docs")
    board = ada.expect("Most thanked of all time for 📝 Documentation").text.splitlines()
    assert board[1:] == ["🥇 Dee: 1", "🥇 Eve: 1"]
    await ada.say("/kudos top week #code")
    assert ada.expect("this week for 💻 Code").text.splitlines()[1:3] == ["🥇 Bea: 2", "🥇 Cai: 2"]
    await ada.say("/kudos top yesterday")
    ada.expect("I don't understand “yesterday”")


async def test_managers_revoke_kudos_with_an_audit_entry(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    ada = await person(onramp, memory, "ada", "Ada")
    await person(onramp, memory, "bea", "Bea")
    zoe = await person(onramp, memory, "zoe", "Zoe", roles=["manager"])
    await ada.say("/kudos @bea for the lovely release notes")
    ada.skip(2)
    [row] = await kudos_rows(onramp)
    await ada.say(f"/kudos revoke {row.id}")
    ada.expect("Only community managers can revoke kudos")
    await zoe.say(f"/kudos revoke {row.id}")
    zoe.expect("Revoked: the kudos to Bea", "lovely release notes")
    await zoe.say(f"/kudos revoke {row.id}")
    zoe.expect(f"There is no kudos {row.id} to revoke")
    await zoe.say("/kudos revoke everything")
    zoe.expect("There is no kudos everything to revoke")
    await zoe.say("/kudos top all")
    zoe.expect("Nobody yet")
    async with onramp.db.reading() as session:
        audit = (
            await session.execute(select(AuditLog).where(AuditLog.action == "kudos.revoked"))
        ).scalar_one()
    assert audit.detail == {"kudos": row.id, "giver": row.giver_id, "receiver": row.receiver_id}
    assert audit.actor == "manager"


async def test_a_feedback_flow_awards_its_badge_and_onboarding_earns_one(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    ada = await person(onramp, memory, "ada", "Ada")
    await ada.say("/feedback")
    ada.skip()
    await ada.say("5")
    ada.skip()
    await ada.say("Everything was clear, thank you.")
    ada.expect("You've earned a badge: 🛟 Helper")
    ada.expect("Thank you for helping us welcome")
    async with onramp.db.reading() as session:
        badges = [b.badge for b in (await session.execute(select(BadgeAward))).scalars()]
    assert badges == ["helper"]


async def test_a_handle_names_the_member_who_has_it(onramp: Onramp, memory: MemoryAdapter) -> None:
    ada = await person(onramp, memory, "ada", "Ada")
    await person(onramp, memory, "bea", "Bea Bianchi")
    async with onramp.db.transaction() as session:
        identity = (
            await session.execute(select(Identity).where(Identity.external_id == "bea"))
        ).scalar_one()
        identity.username = "bea_b"
    await ada.say("/kudos @Bea_B for the lovely release notes")
    ada.expect("Thank you for recognising Bea Bianchi")
    ada.expect("First thanks")
    await ada.say('/kudos @"bea bianchi" for the other lovely release notes')
    ada.expect("Thank you for recognising Bea Bianchi")


async def test_a_name_in_any_script_and_case_names_its_member(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    """Names are compared case-folded in every script (SQLite's lower() folds ASCII only)
    and with their spaces collapsed; a rename is found by its new name."""
    ada = await person(onramp, memory, "ada", "Ada")
    await person(onramp, memory, "elo", "Élodie  Dupont")
    await person(onramp, memory, "sto", "Straße")
    await ada.say('/kudos @"élodie dupont" for the French translation')
    ada.expect("Thank you for recognising Élodie  Dupont")
    ada.expect("First thanks")
    await ada.say("/kudos @STRASSE for the map of the venue")
    ada.expect("Thank you for recognising Straße")
    async with onramp.db.transaction() as session:
        member = (
            await session.execute(select(Member).where(Member.display_name == "Straße"))
        ).scalar_one()
        member.display_name = "Sofía Ñúñez"
    await ada.say('/kudos @"SOFÍA ÑÚÑEZ" for the Spanish glossary')
    ada.expect("Thank you for recognising Sofía Ñúñez")
    await ada.say("/kudos @Straße for the venue again")
    ada.expect("I don't know Straße here yet")


async def test_recognition_exports_as_all_contributors_and_csv(
    onramp: Onramp, memory: MemoryAdapter, settings: Settings
) -> None:
    ada = await person(onramp, memory, "ada", "Ada")
    await person(onramp, memory, "bea", "Bea Bianchi", profile={"github": "beabianchi"})
    await person(onramp, memory, "cai", "Cai")
    await ada.say("/kudos @cai for the dashboard sketches #design")
    await ada.say('/kudos @"Bea Bianchi" for translating the install guide #translation')
    await ada.say('/kudos @"Bea Bianchi" for the French docs review #docs')
    env = {"ONRAMP_DATABASE__URL": settings.database.url}
    exported = cli("recognition", "export", "--format", "all-contributors", env=env)
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["projectName"] == "Open Health Commons"
    assert [(c["login"], c["name"], c["contributions"]) for c in document["contributors"]] == [
        ("beabianchi", "Bea Bianchi", ["doc", "translation"]),
        ("cai", "Cai", ["design"]),
    ]
    table = cli("recognition", "export", "--format", "csv", env=env)
    assert table.stdout.splitlines() == [
        "member_id,name,category,kudos,points",
        "2,Bea Bianchi,docs,1,1",
        "2,Bea Bianchi,translation,1,1",
        "3,Cai,design,1,1",
    ]
    wrong = cli("recognition", "export", "--format", "yaml", env=env)
    assert wrong.returncode == 2 and "yaml" in wrong.stderr


async def test_kudos_typed_without_a_slash_where_commands_are_typed(
    onramp: Onramp, memory: MemoryAdapter
) -> None:
    ada = await person(onramp, memory, "ada", "Ada")
    await person(onramp, memory, "bea", "Bea")
    await ada.say("Kudos @bea for reviewing the data model #data")
    ada.expect("Thank you for recognising Bea (📊 Data)")
    ada.skip()  # the first-thanks badge
    await ada.say("kudos top all")
    ada.expect("🥇 Bea: 1")
    await ada.say("kudos are lovely")
    ada.expect("Which language")  # words, not a command: onboarding, the language first
