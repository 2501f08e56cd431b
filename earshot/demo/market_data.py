"""The bundled demo market: what Vaultline's market says, generated deterministically.

Vaultline sells backup and disaster recovery to MSPs. The demo listens to three audiences through nine
feeds (three per audience, RSS 2.0 and Atom 1.0 mixed) and plants five themes with separate vocabularies,
plus about 15% noise on unrelated one-off topics, so a run of the pipeline has a known right answer:
the report's themes must be the planted ones. Everything comes from ``random.Random(seed)`` and an anchor
date (fixed unless given), so two builds with the same seed and anchor render byte-identical feeds.

One feed is malformed on purpose, as real feeds often are: :data:`MALFORMED_FEED` (``mainstreet-owners``)
writes its channel ``<title>`` with a bare ``&``. feedparser flags it (``bozo=1``) but still returns every
entry, which exercises the listener's "parsed with warnings" path. All other feeds are well-formed.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

ANCHOR = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
"""The default demo "now": items are spread over the :data:`WEEKS` weeks before the anchor. Tests use this
fixed one; ``earshot demo`` passes :func:`anchor_for` the current time, so the demo's newest items are
always recent and its trends (windows ending at the run) stay meaningful as the calendar moves on."""
WEEKS = 8
MALFORMED_FEED = "mainstreet-owners"
"""The one feed whose XML is deliberately broken (a bare ``&`` in its channel title)."""
MIN_WORDS, MAX_WORDS = 15, 60
_MINUTES_PER_WEEK = 7 * 24 * 60

FeedFormat = Literal["rss", "atom"]

PLANTED_THEMES: dict[str, tuple[str, ...]] = {
    "ransomware_recovery": ("ransomware", "encrypted", "immutable", "restore", "attackers", "snapshots"),
    "downtime_cost": ("downtime", "offline", "lost sales", "pos", "closed", "outage"),
    "m365_backup": ("microsoft", "onedrive", "sharepoint", "mailbox", "retention", "tenant"),
    "cyber_insurance": ("insurance", "premium", "underwriters", "questionnaire", "mfa", "renewal"),
    "msp_pricing": ("per-seat", "licensing", "margins", "price increase", "bundle", "distributor"),
}
"""Theme key → words a c-TF-IDF keyword extractor should surface for it. No word is shared between
themes or used by the noise (a test checks this)."""

# How many items each theme gets per audience: each theme has its own audience mix.
_THEME_PLAN: dict[str, dict[str, int]] = {
    "ransomware_recovery": {"customers": 24, "customers_customers": 18, "influencers": 22},
    "downtime_cost": {"customers": 12, "customers_customers": 38, "influencers": 8},
    "m365_backup": {"customers": 34, "customers_customers": 14, "influencers": 12},
    "cyber_insurance": {"customers": 18, "customers_customers": 16, "influencers": 28},
    "msp_pricing": {"customers": 40, "customers_customers": 6, "influencers": 10},
}

# Relative volume per week, oldest first. Cyber insurance climbs sharply in the last two weeks.
_WEEKLY_WEIGHTS: dict[str, tuple[float, ...]] = {
    "ransomware_recovery": (1.0, 1.1, 0.9, 1.3, 1.0, 0.9, 1.0, 1.0),
    "downtime_cost": (1.0, 1.0, 1.2, 1.0, 0.8, 1.0, 1.1, 0.9),
    "m365_backup": (0.9, 1.0, 1.0, 1.1, 1.0, 1.0, 1.0, 1.0),
    "cyber_insurance": (0.6, 0.6, 0.7, 0.7, 0.8, 0.9, 2.6, 3.4),
    "msp_pricing": (1.0, 0.9, 1.0, 1.0, 1.2, 1.0, 1.0, 0.9),
    "noise": (1.0,) * WEEKS,
}

_VOICE_OF = {"customers": "msp", "customers_customers": "owner", "influencers": "analyst"}


@dataclass(frozen=True)
class DemoItem:
    """One post, review, newsletter item or show-notes entry in a demo feed."""

    guid: str
    title: str
    link: str
    author: str
    published: datetime
    html: str
    theme: str | None
    audience: str

    @property
    def text(self) -> str:
        """The description as plain text, the way a listener would read it."""
        return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", self.html))).strip()


@dataclass(frozen=True)
class DemoFeed:
    """One demo feed. ``name`` is both the source id in ``market.yaml`` and the URL path."""

    name: str
    audience: str
    format: FeedFormat
    title: str
    influencer: bool
    items: list[DemoItem]
    home: str = ""
    description: str = ""

    @property
    def path(self) -> str:
        return f"/feeds/{self.name}.xml"

    @property
    def content_type(self) -> str:
        return f"application/{self.format}+xml; charset=utf-8"

    @property
    def last_modified(self) -> datetime:
        """The newest item's date: what the feed's ``Last-Modified`` header says."""
        return max(item.published for item in self.items)


@dataclass(frozen=True)
class _FeedSpec:
    name: str
    audience: str
    format: FeedFormat
    title: str
    description: str
    home: str
    link: str  # item link pattern: {n} is the item number, {slug} the title slug
    guid: str  # guid pattern, same fields
    authors: tuple[str, ...]
    weight: float  # share of its audience's items
    businesses: tuple[str, ...] = ()  # who posts there, for small-business feeds
    off_topic: bool = True  # whether unrelated chatter (noise) turns up there


# fmt: off
_PROFESSIONAL = ("dental practice", "law firm", "accounting firm", "physio clinic", "tax practice",
                 "chiropractic office", "veterinary clinic", "bookkeeping office", "real estate office")
_MAIN_STREET = ("bakery", "hardware store", "pizza place", "bike shop", "florist", "salon", "brewpub",
                "pharmacy", "print shop", "family restaurant", "boutique", "garden center", "tire shop")
# fmt: on

_FEEDS: tuple[_FeedSpec, ...] = (
    _FeedSpec(
        "mspguild-forum", "customers", "rss", "MSP Guild Community — Backup & DR",
        "Backup, BDR and disaster recovery threads from MSP owners and techs.",
        "https://community.mspguild.example/", "https://community.mspguild.example/t/{slug}/{n}",
        "https://community.mspguild.example/t/{n}",
        ("dave_runs_an_msp", "TechTonicIT", "kara.ops", "northwind_noc", "BDRbob", "msp_mel", "itguy_jorge",
         "patchtuesdaypete", "helpdesk_hannah", "rmm_randy"),
        0.45,
    ),
    _FeedSpec(
        "msp-threads", "customers", "atom", "MSP threads: backup and BDR",
        "Community threads tagged backup from a busy MSP board.",
        "https://threads.msphub.example/r/msp/", "https://threads.msphub.example/r/msp/comments/{n}/{slug}",
        "tag:threads.msphub.example,2026:comments/{n}",
        ("u/quietadmin", "u/FlatRateFred", "u/noc_owl", "u/three_tech_shop", "u/vcio_sam", "u/ticket_zero",
         "u/backup_nerd", "u/sole_operator_sue"),
        0.35,
    ),
    _FeedSpec(
        "channelstack-reviews", "customers", "rss", "ChannelStack — MSP reviews of backup vendors",
        "Verified reviews of backup and DR products, written by MSPs.",
        "https://reviews.channelstack.example/", "https://reviews.channelstack.example/review/{n}",
        "https://reviews.channelstack.example/review/{n}",
        ("Owner, 12-person MSP", "Service manager, MSP", "vCIO, regional MSP", "Founder, 3-tech MSP",
         "Technical lead, MSP", "Operations director, MSP"),
        0.20, off_topic=False,
    ),
    _FeedSpec(
        MALFORMED_FEED, "customers_customers", "rss", "Main Street Owners — Tech & Money",
        "Small-business owners helping each other with technology and money questions.",
        "https://forum.mainstreetowners.example/", "https://forum.mainstreetowners.example/thread/{n}-{slug}",
        "https://forum.mainstreetowners.example/thread/{n}",
        ("corner_bakery_jo", "Hank (hardware)", "salon_sofia", "MikeTheFlorist", "brewpub_ben", "lena.k",
         "printshop_raj", "gardencenter_gail", "tireshop_tony"),
        0.40, _PROFESSIONAL[:3] + _MAIN_STREET,
    ),
    _FeedSpec(
        "practice-owners", "customers_customers", "atom",
        "Practice Owners Network — dentists, lawyers & accountants",
        "Owners of dental, legal, accounting and clinical practices compare notes on running the business.",
        "https://talk.practiceowners.example/", "https://talk.practiceowners.example/posts/{n}",
        "tag:talk.practiceowners.example,2026:posts/{n}",
        ("Dr. Priya N.", "Mark Ellison, CPA", "Dr. Tomasz W.", "Hollis Grant (attorney)", "Dr. Amara Obi",
         "Jen R., practice manager", "Chris Delgado, EA"),
        0.30, _PROFESSIONAL,
    ),
    _FeedSpec(
        "shopfloor-qa", "customers_customers", "rss", "Shopfloor Q&A — retail and restaurant owners",
        "Questions and answers from people who run shops, cafés and restaurants.",
        "https://ask.shopfloorqa.example/", "https://ask.shopfloorqa.example/q/{n}/{slug}",
        "https://ask.shopfloorqa.example/q/{n}",
        ("rosa_trattoria", "bikeshop_dan", "boutique_bree", "pharmacist_paul", "pizza_pat", "deli_dana",
         "marta_bakes"),
        0.30, _MAIN_STREET,
    ),
    _FeedSpec(
        "backupwire", "influencers", "atom", "BackupWire — analyst notes on data protection",
        "Short analyst notes on backup, recovery and the MSP channel.",
        "https://backupwire.example/", "https://backupwire.example/notes/{n}-{slug}",
        "tag:backupwire.example,2026:notes/{n}",
        ("Dana Whitfield", "Marcus Oyelaran"),
        0.40,
    ),
    _FeedSpec(
        "secops-weekly", "influencers", "rss", "SecOps Weekly for Small Business",
        "A weekly newsletter on security and risk for small businesses and the MSPs who serve them.",
        "https://secopsweekly.example/", "https://secopsweekly.example/items/{n}",
        "https://secopsweekly.example/items/{n}",
        ("Priya Raman", "Guest: Leo Fontaine"),
        0.35,
    ),
    _FeedSpec(
        "msp-recap-podcast", "influencers", "rss", "The MSP Recap — podcast show notes",
        "Show notes from a weekly podcast about the business of managed services.",
        "https://podcast.msprecap.example/", "https://podcast.msprecap.example/episodes/{n}-{slug}",
        "https://podcast.msprecap.example/episodes/{n}",
        ("Tom Becker & Ana Ruiz",),
        0.25,
    ),
)  # fmt: skip

# Slot fillers for the templates below. Each item draws one value per slot.
_SLOTS: dict[str, tuple[str, ...]] = {
    "biz": _PROFESSIONAL + _MAIN_STREET,
    "partners": ("Harper & Cole", "Brandt & Sons", "Lin & Okafor", "Bell & Finch",
                 "Penny & Pine", "Walsh & Reyes", "Moss & Vine"),
    "city": ("Dayton", "Leeds", "Tulsa", "Ghent", "Boise", "Adelaide", "Porto", "Calgary", "Cork", "Raleigh",
             "Lyon", "Spokane", "Hamilton", "Tampa", "Utrecht"),
    "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"),
    "vendor": ("Vaultline", "Cloudkeep", "Backstop", "Redundo", "Vaultline"),
    "techs": ("4", "6", "9", "12", "15", "22"),
    "clients": ("18", "35", "60", "85", "140", "210"),
    "seats": ("40", "120", "250", "600", "1,800", "3,200"),
    "servers": ("3", "4", "7", "11", "14", "19"),
    "tb": ("2", "4", "6", "9", "14", "27"),
    "hours": ("3", "5", "7", "9", "14", "20"),
    "days": ("10", "21", "35", "45", "60", "90"),
    "pct": ("12", "15", "20", "25", "30", "35", "40", "60"),
    "money": ("$1,200", "$2,500", "$4,000", "$6,800", "$9,000", "£3,000", "€5,500"),
    "price": ("$45", "$85", "$110", "$140", "$175"),
    "cost": ("$9", "$14", "$19", "$26", "$31"),
    "staff": ("4", "6", "9", "12", "15", "20"),
    "pcs": ("5", "9", "12", "16", "25"),
    "ransom": ("$40,000", "$85,000", "$150,000", "$250,000", "$600,000"),
    "time": ("11:40", "12:15", "5:30 pm", "7 pm", "9:10 am", "1:45 pm"),
    "month": ("January", "February", "March", "April"),
    "margin": ("14", "18", "22", "26", "31"),
    "pages": ("6", "9", "12", "14", "22"),
    "sample": ("140", "300", "650", "1,100", "2,400"),
    "sector": ("healthcare", "legal", "retail", "manufacturing", "hospitality", "construction"),
    "period": ("month", "quarter", "six weeks", "two months"),
    "minutes": ("10", "15", "25", "40"),
}  # fmt: skip


@dataclass(frozen=True)
class _Voice:
    """Templates for one theme in one voice: a text is opener + detail (+ closer)."""

    titles: tuple[str, ...]
    openers: tuple[str, ...]
    details: tuple[str, ...]
    closers: tuple[str, ...]


_TEMPLATES: dict[tuple[str, str], _Voice] = {
    ("ransomware_recovery", "msp"): _Voice(
        titles=(
            "Ransomware hit a {biz} client last night, restore went fine",
            "Anyone tested immutable backups against real ransomware?",
            "Attackers went after our backup server first",
            "How fast can you restore {tb} TB after ransomware?",
            "Immutable snapshots saved us at {bizname}",
            "Ransomware post-mortem: {servers} servers encrypted",
            "Restore times after ransomware: real numbers wanted",
            "Attackers deleted shadow copies, snapshots survived",
        ),
        openers=(
            "Had a {biz} client in {city} get hit by ransomware on {weekday}, {servers} servers encrypted "
            "before the EDR caught it.",
            "Ransomware again this week: the attackers got domain admin at a {biz} client and encrypted "
            "every file share they could reach.",
            "Quick war story from our {techs}-tech shop: ransomware came in through an old VPN account and "
            "encrypted the file server at {bizname}.",
            "The attackers deleted the local shadow copies and went looking for our backup console before "
            "they encrypted anything.",
            "We just finished a ransomware recovery for a {biz} with {servers} servers and {tb} TB of data.",
        ),
        details=(
            "What saved us was the immutable copy in {vendor}; the restore of {tb} TB took {hours} hours.",
            "The immutable snapshots were untouched, so we could restore the whole file server to the "
            "snapshot from the night before.",
            "Lesson learned: if the attackers can log into the backup console, your backups are just more "
            "files to get encrypted.",
            "We now keep {days} days of immutable snapshots offsite and test a full restore every {period}.",
            "Restore speed matters more than the price per terabyte once ransomware has encrypted everything.",
            "Nobody paid the attackers; we did a bare-metal restore from immutable snapshots in {hours} hours.",
        ),
        closers=(
            "Anyone else moving every client to immutable storage after a ransomware scare?",
            "How are you proving restore times to clients before it happens?",
            "Curious what others do when the attackers target the snapshots first.",
            "Which vendors let you restore straight from immutable snapshots without rehydrating?",
        ),
    ),
    ("ransomware_recovery", "owner"): _Voice(
        titles=(
            "Our {biz} got hit with ransomware, what now?",
            "Ransomware note on every screen this morning",
            "Is my IT company's restore plan good enough for ransomware?",
            "Files encrypted overnight at our {biz}",
            "Attackers wanted {ransom} to unlock our files",
            "What are immutable snapshots and do I need them?",
        ),
        openers=(
            "I run a {biz} in {city} and last {weekday} every file on our server was encrypted by ransomware.",
            "Came in on {weekday} morning to a ransomware note on all {pcs} computers at our {biz}.",
            "The attackers wanted {ransom} in bitcoin to unlock the files they encrypted at my {biz}.",
            "My partner and I own {bizname} and we just lived through our first ransomware attack.",
            "Our {biz} in {city} had every client folder encrypted by ransomware over a long weekend.",
        ),
        details=(
            "Our IT provider said they could restore everything from immutable backups without paying, and "
            "they did it in {hours} hours.",
            "I had no idea what immutable meant until our IT guy explained the attackers couldn't delete "
            "those snapshots.",
            "We didn't pay the attackers, but the restore only got us back to {weekday}'s snapshots.",
            "The restore worked, but only because our IT company kept snapshots the attackers couldn't reach.",
            "Turns out the old backup drive was plugged in, so it got encrypted along with everything else.",
        ),
        closers=(
            "Other owners: ask your IT company how they would restore after ransomware before you need it.",
            "Should I be asking for proof that the restore actually works?",
            "Has anyone here paid a ransomware demand, and did the files come back?",
            "What should I ask my IT provider about immutable snapshots?",
        ),
    ),
    ("ransomware_recovery", "analyst"): _Voice(
        titles=(
            "Ransomware crews now target backups first",
            "Immutable backups are table stakes: notes from {sample} incidents",
            "Restore time, not backup success, is the ransomware metric",
            "Why attackers go after snapshots",
            "Ransomware in {sector}: the backup console is the new target",
            "Encrypted twice: when ransomware reaches the backups",
        ),
        openers=(
            "In {pct}% of the ransomware cases we reviewed this quarter, the attackers tried to delete or "
            "encrypt backups before detonating.",
            "Ransomware operators have learned that encrypted production data is only leverage if the "
            "snapshots are gone too.",
            "The most common ransomware playbook in {sector} incidents this year starts with the backup "
            "console, not the file server.",
            "Across {sample} ransomware incidents handled by MSPs, the median restore took {hours} hours "
            "when immutable copies existed.",
        ),
        details=(
            "Immutable snapshots and a tested restore path are what separate a bad week from a business-ending one.",
            "Vendors advertise immutable storage, but few MSPs measure how long a full restore actually takes.",
            "Expect attackers to keep hunting for backup credentials; immutable copies of at least {days} "
            "days are the floor.",
            "Where the attackers reached the snapshots, victims were {pct}% more likely to pay for a decryptor.",
        ),
        closers=(
            "MSPs should report restore tests to clients the way they report patching.",
            "Ask every backup vendor how its snapshots survive stolen admin credentials.",
            "The question for buyers is simple: could you restore if everything else were encrypted?",
        ),
    ),
    ("downtime_cost", "owner"): _Voice(
        titles=(
            "{hours} hours of downtime on a {weekday}",
            "POS went offline during the lunch rush",
            "What does an hour of downtime cost your {biz}?",
            "Had to put up a closed sign because everything was offline",
            "Lost sales from one internet outage",
            "How do you handle POS downtime?",
            "Outage on our busiest day of the month",
            "Counting the lost sales after {weekday}'s outage",
            "Card terminals offline again at {bizname}",
        ),
        openers=(
            "Our POS went offline at {time} on a {weekday} and my {biz} in {city} was basically closed for "
            "the rest of the day.",
            "We lost about {money} in lost sales last {weekday} because the card terminals and POS were "
            "offline for {hours} hours.",
            "Every hour of downtime at my {biz} means customers walking out and lost sales I never get back.",
            "I run a {biz} with {staff} staff, and when the system is offline nobody can check anyone in, "
            "so we are effectively closed.",
            "The outage started with a failed update and the whole {biz} was offline for most of the afternoon.",
            "Second outage this month at {bizname}: the POS froze at {time} and stayed offline for {hours} hours.",
        ),
        details=(
            "My IT company fixed it, but nobody had ever told me what a day of downtime actually costs us.",
            "We had to turn people away and put a closed sign on the door, which hurt more than the lost sales.",
            "Staff sat around on the clock during the outage, so the downtime cost us twice.",
            "I have started writing down every outage so I can show the IT provider what downtime costs in lost sales.",
            "Cash only during the outage, and half of the customers just left.",
            "By my math that one outage was {money} in lost sales plus {staff} people paid to wait.",
        ),
        closers=(
            "How much downtime is normal before I look for a new IT provider?",
            "Do other owners keep a paper fallback for when the POS is offline?",
            "Is there a way to keep taking payments when the POS goes offline?",
            "Does anyone actually track lost sales from downtime?",
        ),
    ),
    ("downtime_cost", "msp"): _Voice(
        titles=(
            "Clients don't care about backups, they care about downtime",
            "Selling DR to a {biz} that lost a day of sales",
            "Putting a dollar figure on client downtime",
            "POS server offline, client closed for the day",
        ),
        openers=(
            "The easiest way I have found to sell DR to a {biz} is to ask what a day of downtime costs them "
            "in lost sales.",
            "Had a {biz} client closed for {hours} hours because their POS server went offline and the "
            "replacement took a day to ship.",
            "One {biz} client tracked every outage for a quarter and the lost sales added up to {money}.",
        ),
        details=(
            "Once the owner put a number on the lost sales, the conversation about downtime changed completely.",
            "We now put a downtime cost estimate in every QBR: lost sales per hour offline.",
            "Owners shrug at backup reports but remember the day they were closed.",
        ),
        closers=(
            "How do you quantify downtime for small retail clients?",
            "Anyone using outage history to justify a standby POS server?",
        ),
    ),
    ("downtime_cost", "analyst"): _Voice(
        titles=(
            "The real cost of small-business downtime",
            "Downtime math for Main Street",
            "Every outage is a sales problem",
            "An hour of downtime in {sector} costs {money}",
            "{hours} hours offline: downtime in {sector}",
        ),
        openers=(
            "Our survey of {sample} small businesses put the median cost of an hour of downtime at {money}, "
            "mostly in lost sales.",
            "For a restaurant or retailer, downtime is immediate: the POS goes offline and the doors are "
            "effectively closed.",
            "Small businesses in {sector} reported an average of {hours} hours of unplanned downtime last year.",
        ),
        details=(
            "MSPs that translate an outage into lost sales per hour win the DR conversation.",
            "Owners rarely budget for downtime until their first long outage.",
            "Few owners know that a single offline afternoon can erase a week of profit.",
        ),
        closers=(
            "Lead with the cost of being closed, not with the technology.",
            "Downtime is the number owners feel, so it is the number to show them.",
        ),
    ),
    ("m365_backup", "msp"): _Voice(
        titles=(
            "Microsoft 365 backup: do you sell it to every client?",
            "Client emptied a SharePoint library, retention didn't cover it",
            "Departed user's mailbox gone after the license was removed",
            "OneDrive sync wiped a shared folder",
            "Microsoft 365 retention is not a backup",
            "Tenant-wide backup for {seats} Microsoft 365 seats",
            "SharePoint versioning vs real backup",
            "Which Microsoft 365 backup covers every tenant we manage?",
            "Microsoft 365 backup for a {seats}-seat {biz} client",
            "SharePoint site gone at {bizname}, what would you do?",
            "Mailbox recovery request from a {biz} in {city}",
            "Retention policies in {clients} tenants: what we found",
        ),
        openers=(
            "Another client assumed Microsoft 365 keeps everything forever: a {biz} lost a SharePoint "
            "folder that someone emptied {days} days ago.",
            "We onboarded a {biz} with {seats} Microsoft 365 users and zero backup, just default retention.",
            "User at a {biz} client synced a bad OneDrive folder and wiped the shared SharePoint library "
            "for the whole office.",
            "Partner left {bizname}, HR removed the license, and her mailbox was gone after the retention window.",
            "We manage {clients} Microsoft 365 tenants and only a third had any backup beyond retention policies.",
        ),
        details=(
            "Default retention in Microsoft 365 is not a backup; we now back up every mailbox, OneDrive and "
            "SharePoint site per tenant.",
            "Getting the SharePoint library back from our third-party copy took {minutes} minutes instead "
            "of a ticket with Microsoft.",
            "The retention policies were set up by the previous MSP and nobody knew what they covered.",
            "We switched to {vendor} for Microsoft 365 so one console covers every mailbox in every tenant.",
            "Converting the mailbox to shared before removing the license is on our offboarding checklist now.",
        ),
        closers=(
            "Are you selling Microsoft 365 backup as an add-on or including it for every tenant?",
            "What are you using to back up Teams chats along with OneDrive?",
            "How long do you keep deleted mailbox data for clients?",
        ),
    ),
    ("m365_backup", "owner"): _Voice(
        titles=(
            "Lost emails after an employee left",
            "OneDrive ate our shared folder",
            "Does Microsoft 365 back up my files?",
            "SharePoint folder vanished, IT says retention ran out",
            "Our {biz} lost a mailbox after a staff member left",
            "OneDrive problem at our {biz} in {city}",
            "Microsoft 365 at a {staff}-person {biz}: who backs it up?",
        ),
        openers=(
            "I assumed Microsoft 365 backed up our email, then an old employee's mailbox at my {biz} "
            "vanished after we cancelled her license.",
            "Someone at our {biz} deleted a whole SharePoint folder of client records and we only noticed "
            "{days} days later.",
            "Our office manager's OneDrive sync went wrong and half the shared files at our {biz} disappeared.",
            "We moved the {biz} to Microsoft 365 last year thinking OneDrive and SharePoint were our backup.",
        ),
        details=(
            "Our IT provider said the retention period had run out and Microsoft couldn't get it back.",
            "Luckily the IT company had a separate backup of the mailbox and the SharePoint site.",
            "Now I pay for Microsoft 365 backup per mailbox, which I honestly thought the subscription "
            "already included.",
        ),
        closers=(
            "Is it normal to pay extra for Microsoft 365 backup on top of the subscription?",
            "Does OneDrive keep old versions long enough, or do I need something else?",
        ),
    ),
    ("m365_backup", "analyst"): _Voice(
        titles=(
            "Microsoft 365 is the new file server, and it needs a backup",
            "Shared responsibility in SaaS: the retention gap",
            "Why Microsoft 365 backup is the MSP's fastest-growing line",
            "{pct}% of small tenants have no Microsoft 365 backup",
            "Microsoft 365 in {sector}: mailbox and SharePoint gaps",
            "OneDrive, SharePoint and the {days}-day retention myth",
        ),
        openers=(
            "Microsoft's shared responsibility model is clear that tenant data protection is the customer's "
            "job, yet most small tenants rely on default retention.",
            "SaaS backup for Microsoft 365 is the fastest-growing line item we track among MSPs, ahead of "
            "server backup.",
            "In {sample} small Microsoft 365 tenants we examined, {pct}% had no copy of mailbox or "
            "SharePoint data outside Microsoft.",
        ),
        details=(
            "The usual loss is mundane: an emptied SharePoint library, a OneDrive sync gone wrong, or a "
            "mailbox removed with its license.",
            "Retention policies are compliance tools, not recovery tools, and they are often misconfigured per tenant.",
            "OneDrive and SharePoint now hold the files that used to sit on the office server.",
        ),
        closers=(
            "Treat every tenant as production data that needs its own backup.",
            "MSPs that include Microsoft 365 backup by default avoid the awkward conversation after a loss.",
        ),
    ),
    ("cyber_insurance", "analyst"): _Voice(
        titles=(
            "Cyber insurance questionnaires are now the de facto security standard",
            "Underwriters want proof, not checkboxes",
            "Premium increases of {pct}% at renewal: what changed",
            "MFA everywhere, or no cyber insurance",
            "What underwriters ask about backups now",
            "The {pages}-page insurance questionnaire, annotated",
            "Renewal season: cyber insurance gets stricter",
            "Cyber insurance in {sector}: {sample} renewals reviewed",
            "MFA answers now drive the premium in {sector}",
            "What {sample} questionnaires say about small-business MFA",
        ),
        openers=(
            "Cyber insurance renewal season is here, and underwriters have added new questions about "
            "backups and MFA to the standard questionnaire.",
            "Premiums for small-business cyber insurance rose {pct}% at renewal in our sample, and "
            "underwriters are declining applicants without MFA.",
            "The insurance questionnaire has quietly become the security framework most small businesses "
            "actually follow.",
            "Underwriters are no longer satisfied with a yes on the questionnaire; they want screenshots of "
            "MFA enforcement and backup tests.",
            "Among {sample} small firms in {sector}, the cyber insurance premium at renewal now depends "
            "mostly on MFA and backup answers.",
        ),
        details=(
            "For MSPs, filling in the insurance questionnaire for clients is becoming a billable service.",
            "Expect the premium gap between businesses with and without MFA on email and remote access to "
            "widen at the next renewal.",
            "Several carriers now ask whether backups are separated from the main network and tested every {period}.",
            "Underwriters told us a wrong answer on the questionnaire is the fastest way to get a claim denied.",
            "A clean questionnaire with MFA evidence cut the premium by {pct}% for firms we tracked.",
        ),
        closers=(
            "MSPs who can document MFA and backup controls will own the insurance conversation.",
            "Start the renewal paperwork early: underwriters are slower and stricter than last year.",
            "The questionnaire is the sales brief; read it before your client's renewal date.",
        ),
    ),
    ("cyber_insurance", "msp"): _Voice(
        titles=(
            "Clients' cyber insurance questionnaires landing on my desk",
            "Insurance renewal denied over MFA",
            "Charging for insurance questionnaire work?",
            "Underwriters asking for MFA screenshots now",
            "{pages}-page insurance questionnaire for a {biz} client",
            "MFA rollout at a {biz} before their insurance renewal",
            "Premium up {pct}% for a client without MFA",
        ),
        openers=(
            "Third cyber insurance questionnaire this month from a {biz} client, {pages} pages, due before "
            "their renewal on {weekday}.",
            "The underwriters for a {biz} client refused to renew unless we enforce MFA on every account, "
            "including the owner's.",
            "Half our {clients} clients have an insurance renewal this quarter and every questionnaire asks "
            "about MFA and backups.",
        ),
        details=(
            "We have started charging {money} per questionnaire because answering honestly takes hours of "
            "evidence gathering.",
            "The premium nearly doubled for the clients who couldn't prove MFA.",
            "Underwriters now want screenshots of conditional access and the last backup test, not a yes or no.",
        ),
        closers=(
            "Are you charging clients for insurance questionnaire work?",
            "Anyone have a template for the MFA and backup sections of these questionnaires?",
        ),
    ),
    ("cyber_insurance", "owner"): _Voice(
        titles=(
            "Cyber insurance premium went up {pct}%",
            "Insurance asks if we have MFA, what is that?",
            "The cyber insurance questionnaire is {pages} pages",
            "Renewal came with a list of demands",
            "Insurance renewal for our {biz} in {city}",
            "Underwriters want MFA for our {staff} staff",
        ),
        openers=(
            "Our cyber insurance renewal for the {biz} came back with a {pct}% higher premium and a "
            "{pages}-page questionnaire.",
            "The insurance agent says underwriters won't cover our {biz} next year unless we turn on MFA for everyone.",
            "I own {bizname} and the cyber insurance renewal wants proof of MFA and tested backups before "
            "it will quote.",
        ),
        details=(
            "I had to forward the questionnaire to our IT company because I didn't understand half of it.",
            "Staff complain about MFA codes, but the premium difference is not optional.",
            "Our premium is now {money} a year, more than we pay for the alarm system.",
        ),
        closers=(
            "Is everyone else's cyber insurance premium going up this much?",
            "Who fills in the insurance questionnaire for you, the owner or the IT provider?",
        ),
    ),
    ("msp_pricing", "msp"): _Voice(
        titles=(
            "Backup vendor price increase of {pct}%, margins getting squeezed",
            "Per-seat vs per TB licensing for backup",
            "How do you bundle backup into your per-seat price?",
            "Distributor just passed on another price increase",
            "Margins on backup after the licensing change",
            "Moving {clients} clients to per-seat pricing",
            "What margins do you target on the security bundle?",
            "Licensing changes at {vendor}: worth switching?",
            "{vendor} price increase and our per-seat bundle",
            "Per-seat pricing for a {staff}-person {biz} client",
            "Distributor margins on {vendor} licensing",
            "Bundle at {price} a seat: are your margins holding?",
        ),
        openers=(
            "Our backup vendor announced a {pct}% price increase on {month} 1 and our margins on the "
            "{price} bundle drop to {margin}%.",
            "We sell a per-seat bundle at {price} and backup licensing is now {cost} of that.",
            "Moving {clients} clients from per TB to per-seat licensing made billing simple but hurt our "
            "margins on the big file servers.",
            "Distributor email this morning: licensing changes plus a price increase on every backup SKU.",
            "Our {techs}-tech MSP has {seats} seats on one bundle, so any licensing change hits the whole book.",
            "{vendor} moved to per-seat licensing through the distributor and our cost per client jumped.",
        ),
        details=(
            "Per-seat pricing is easy to sell, but when licensing jumps mid-contract our margins absorb it.",
            "We are building the price increase into the bundle at the next contract cycle instead of eating it.",
            "I would rather have predictable per-seat licensing than chase margins on storage overages.",
            "Thinking about unbundling backup so the price increase is visible to clients.",
            "Our distributor offers better margins if we commit to {seats} seats for a year.",
            "At {margin}% margins on the bundle, one more price increase and backup is a loss leader.",
        ),
        closers=(
            "What margins are you targeting on backup inside your per-seat bundle?",
            "Anyone pushed a price increase to clients this year without losing any?",
            "Do you buy licensing direct or through a distributor?",
            "How do you explain a per-seat price increase to a {biz}?",
        ),
    ),
    ("msp_pricing", "owner"): _Voice(
        titles=(
            "IT provider raised our per-seat price",
            "Is a {price} per-seat price normal for managed IT?",
            "Managed IT price increase letter, is this normal?",
        ),
        openers=(
            "Our IT company sent a letter about a price increase: the per-seat price for our {staff}-person "
            "{biz} is now {price} a month.",
            "The IT provider for our {biz} switched us to a per-seat bundle and the bill went up {pct}%.",
        ),
        details=(
            "They say the bundle now includes backup and security, but I can't tell what the licensing "
            "actually covers.",
            "They blamed vendor licensing costs for the price increase.",
        ),
        closers=(
            "Is a price increase like this normal for small offices?",
            "Should I ask for the bundle to be itemised?",
        ),
    ),
    ("msp_pricing", "analyst"): _Voice(
        titles=(
            "MSP margins under pressure from vendor licensing",
            "The per-seat bundle is eating MSP margins",
            "Price increase season in the MSP channel",
            "Median MSP margins fall to {margin}%",
            "Licensing costs up {pct}%: the per-seat squeeze",
            "Who pays for the distributor price increase?",
        ),
        openers=(
            "Vendor licensing changes pushed backup costs up {pct}% for the MSPs we surveyed, while their "
            "per-seat prices to clients stayed flat.",
            "The per-seat bundle made MSP pricing simple, but it hides which component drives each price increase.",
            "Across {sample} MSPs we track, median margins on the managed services bundle fell to {margin}%.",
        ),
        details=(
            "MSPs that pass through every price increase within a quarter keep healthy margins.",
            "Distributors are passing through price increase after price increase, and backup licensing "
            "leads the list.",
            "Per-seat licensing from vendors now matches per-seat pricing to clients, which leaves margins "
            "with nowhere to hide.",
        ),
        closers=(
            "Review the bundle every year, not every contract.",
            "Expect more MSPs to show backup as its own line instead of burying it in the bundle.",
        ),
    ),
}

# Noise: one-off posts, each on a different topic, belonging to no theme. (title, text) per audience.
_NOISE: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (
        ("Hiring our first level-1 helpdesk tech",
         "We are about to hire our first level-1 helpdesk tech. Do you test candidates with a practical "
         "exercise or just talk through scenarios in the interview?"),
        ("Flights to the channel conference doubled",
         "Flights and hotel for the spring channel conference in Orlando cost me almost twice what they "
         "did last year. Is anyone sharing an Airbnb or driving down?"),
        ("Best bean-to-cup coffee machine for a 10-person office?",
         "The office coffee machine finally died after six years of abuse. Looking for a bean-to-cup model "
         "that ten caffeine addicts can't break in a month."),
        ("Favourite Windows keyboard shortcuts to teach users",
         "I started a lunch-and-learn on keyboard shortcuts for a client. Win+V clipboard history gets the "
         "biggest gasp every time. What else should I show them?"),
        ("Parking tickets outside client sites",
         "Our techs collected six parking tickets in the city centre this month while on site. Do you pay "
         "them, or is that on the tech?"),
        ("Anyone watching the derby on Saturday?",
         "Half my team supports one side and half the other, so Saturday's derby is going to make Monday's "
         "stand-up interesting. Predictions?"),
        ("Snow day: half the team working from home",
         "Forty centimetres of snow overnight and the roads are a mess. Half the team is remote today and "
         "the ticket queue has never been quieter."),
        ("Standing desks: worth it?",
         "Thinking about buying standing desks for the whole team. Did anyone notice a difference in back "
         "pain, or do they just end up as expensive sitting desks?"),
        ("Label printer recommendations for patch panels",
         "Need a decent label printer for patch panels and cables that prints on flexible tape and doesn't "
         "eat cartridges. What do you carry in the van?"),
        ("Podcasts for long drives between sites",
         "I spend about nine hours a week driving between client sites. Looking for podcasts that are not "
         "about IT. History, science, anything good."),
        ("Van wrap design: logo or phone number?",
         "Finally getting the service vans wrapped. The designer wants a huge logo, I want a big phone "
         "number and website. Which actually gets calls?"),
        ("Team lunch ideas for a small crew",
         "We do a team lunch every other Friday and we are running out of places. Somebody suggested a "
         "cooking class instead. Has anyone done that with their team?"),
        ("Chess club at the office",
         "A couple of the techs started playing chess during lunch and now there is a ladder on the "
         "whiteboard. Never seen the team this competitive."),
        ("Wrist pain from the mouse",
         "After twenty years at a desk my wrist is complaining. Has anyone switched to a vertical mouse or a "
         "trackball, and did it actually help?"),
        ("Printer jams only on Tuesdays",
         "A client's office printer jams every Tuesday. Same tray, same paper. Turns out Tuesday is the "
         "day the cleaner opens the window next to it. Humidity, apparently."),
        ("Trade show giveaways that people keep",
         "Stress balls and pens go straight in the bin. What trade show giveaways have people actually kept? "
         "Thinking about phone stands or good tote bags."),
        ("Sponsoring a charity 5k",
         "We are sponsoring the local charity 5k and I somehow agreed to run it. Any tips for going from "
         "the couch to five kilometres in six weeks?"),
        ("Office dog: yes or no?",
         "One of our techs wants to bring his dog to the office on Fridays. Two people love the idea and "
         "one is allergic. How did you handle it?"),
    ),
    "customers_customers": (
        ("Need a reliable plumber in Raleigh",
         "The sink in our back kitchen keeps backing up and the last plumber never came back. Anyone know a "
         "reliable plumber in Raleigh who answers the phone?"),
        ("How often do you post on Instagram?",
         "Trying to post on Instagram for the shop three times a week and it is eating my evenings. Do you "
         "schedule posts ahead or do it on the fly?"),
        ("Egg prices are hurting on pastries",
         "Eggs went up again this week. I have already raised croissant prices once this year. How are other "
         "bakers dealing with it without scaring off regulars?"),
        ("Heat wave and staff scheduling",
         "With the heat wave this week nobody wants the afternoon shift in the back room. Do you change "
         "schedules in summer or just buy more fans?"),
        ("Roadworks blocking the storefront for two months",
         "The council is digging up our street until spring and customers can't see the shop from the "
         "corner. Did anyone get compensation for roadworks?"),
        ("Holiday window display ideas",
         "Looking for holiday window display ideas that don't cost a fortune. Last year's paper snowflakes "
         "looked great for a week and then sagged."),
        ("Replying to a rude Google review",
         "A customer left a one-star review claiming we were rude, but the camera shows otherwise. Do you "
         "reply publicly or just let it go?"),
        ("Teenage summer staff and school schedules",
         "Every summer I hire students and every August their schedules fall apart when school sports "
         "start. How do you plan shifts around teenagers?"),
        ("Choosing a new logo",
         "We are refreshing the logo after twelve years. The designer sent nine options and my whole "
         "family has a different favourite. How did you decide?"),
        ("Is a farmers market stall worth it?",
         "Thinking about a stall at the Saturday farmers market to reach new customers. Is the fee and the "
         "early start worth it for a small food business?"),
        ("New lease: what to negotiate",
         "Our five-year lease is up in spring. The landlord wants eight percent more. What did you manage to "
         "negotiate besides the rent itself?"),
        ("Dental chair upholstery repair",
         "Two of our dental chairs have cracked upholstery. Has anyone used a local upholsterer instead of "
         "the manufacturer? The quote from the manufacturer is silly."),
        ("Do loyalty punch cards still work?",
         "We still use paper punch cards, buy nine coffees and get the tenth free. Customers love them, "
         "but I wonder if an app would bring people back more often."),
        ("Background music in the salon",
         "What do you play in the salon? Clients complain the radio ads are annoying and my stylists fight "
         "over the playlist every single morning."),
        ("Staff uniforms: polos or aprons?",
         "Ordering new staff uniforms for the shop. Polos look smart but aprons hide the dust. What has "
         "held up best after a hundred washes?"),
        ("Mice after the neighbour's renovation",
         "Since the building next door started renovating we have had mice in the storeroom. Which pest "
         "control company did you use and did it work?"),
        ("Year-end tax prep recommendations",
         "My bookkeeper is retiring right before year end. Can anyone recommend someone who handles small "
         "retailers and actually answers emails in January?"),
        ("Sponsoring the little league team",
         "The local little league team asked us to sponsor their jerseys. Did sponsorship ever bring you "
         "customers, or is it just goodwill?"),
    ),
    "influencers": (
        ("Notes from three days in airport lounges",
         "Three conferences in two weeks meant more time in airport lounges than on stages. A short rant on "
         "conference scheduling and why Tuesday keynotes are always delayed."),
        ("Book review: the box that changed shipping",
         "This week's reading: a history of the shipping container and how one standard steel box reshaped "
         "ports, unions and global trade in twenty years."),
        ("Our new microphone setup",
         "Listeners asked about our audio. We moved to dynamic microphones on boom arms and a small mixer, "
         "and the echo from the office is finally gone."),
        ("Housekeeping: new sending day",
         "Housekeeping note: from next month this newsletter arrives on Thursdays instead of Mondays. Reader "
         "surveys said Monday inboxes are a war zone."),
        ("The four-day week experiment, six months in",
         "Six months into a four-day week, our small team ships the same amount of work. Meetings shrank and "
         "Fridays became sacred. Here is what we measured."),
        ("AI note-takers in meetings",
         "Everyone now brings an AI note-taker to calls. The summaries are decent, but nobody reads them, "
         "and half the action items are invented. A short essay."),
        ("Spreadsheet tip: stop using VLOOKUP",
         "A quick spreadsheet tip for readers who still use VLOOKUP: XLOOKUP handles missing values, looks "
         "left and does not break when someone inserts a column."),
        ("Personal branding on LinkedIn",
         "Guest episode on personal branding: why posting daily on LinkedIn rarely works and what founders "
         "should write about instead of motivational quotes."),
        ("Quantum computing hype check",
         "Another week, another quantum computing headline. A sober look at what the current machines can "
         "actually do and how far away practical use remains."),
        ("Electric vans for field technicians",
         "We spoke to three service companies that switched their field technicians to electric vans. "
         "Charging at home worked; winter range was the surprise."),
        ("Chip shortages are back for networking gear",
         "Lead times on switches and access points are creeping up again as chip supply tightens. Order "
         "hardware for spring projects now, not in February."),
        ("Sleep is a productivity tool",
         "A personal note on sleep: after a year of tracking it, the single best predictor of a good "
         "writing day was seven hours in bed the night before."),
        ("Public speaking for technical people",
         "Five habits that make technical talks better: one idea per slide, fewer bullet points, a story "
         "in the first minute, rehearsed demos and ending on time."),
        ("How hurricane forecasts are made",
         "A detour into meteorology: how ensemble weather models produce the cone you see on hurricane "
         "forecasts, and why the cone is not the storm's size."),
        ("Mechanical keyboards, reviewed",
         "We tried four mechanical keyboards for a month of writing. The quiet tactile switches won; the "
         "loud clicky ones lost the office vote on day two."),
        ("Do office plants help?",
         "The research on office plants and air quality is weaker than the posters suggest, but people do "
         "report feeling better at work with greenery around."),
    ),
}  # fmt: skip


@dataclass
class _Draft:
    """An item before its feed assigns it a number, a link and an author."""

    spec: _FeedSpec
    title: str
    html: str
    theme: str | None
    published: datetime


def anchor_for(now: datetime) -> datetime:
    """The anchor for a demo run at ``now``: the start of its UTC day. Rounding keeps the feeds (and their
    ETags) the same for every run that day, so a re-run is answered ``304 Not Modified``."""
    if now.tzinfo is None:
        raise ValueError("anchor_for needs an aware datetime (UTC), got a naive one")
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def build_demo_feeds(seed: int = 7, anchor: datetime = ANCHOR) -> list[DemoFeed]:
    """Generate the demo market's feeds, dated over the weeks before ``anchor``; the same seed and anchor
    always give the same feeds, item for item. Another anchor shifts every date and nothing else."""
    if anchor.tzinfo is None:
        raise ValueError("the demo anchor must be an aware datetime (UTC), got a naive one")
    anchor = anchor.astimezone(UTC)
    rng = random.Random(seed)
    drafts: list[_Draft] = []
    seen: set[str] = set()
    for theme, plan in _THEME_PLAN.items():
        drafts.extend(_theme_drafts(theme, plan, rng, seen, anchor))
    drafts.extend(_noise_drafts(rng, anchor))
    return [_finish_feed(spec, [d for d in drafts if d.spec is spec], rng) for spec in _FEEDS]


def _theme_drafts(
    theme: str, plan: dict[str, int], rng: random.Random, seen: set[str], anchor: datetime
) -> list[_Draft]:
    audiences = [audience for audience, count in plan.items() for _ in range(count)]
    rng.shuffle(audiences)
    dates = _dates(len(audiences), _WEEKLY_WEIGHTS[theme], rng, anchor)
    drafts = []
    for audience, published in zip(audiences, dates, strict=True):
        spec = _pick_feed(audience, rng)
        voice = _TEMPLATES[(theme, _VOICE_OF[audience])]
        title, sentences = _compose(voice, spec, rng, seen)
        body = _to_html(sentences, PLANTED_THEMES[theme], spec.home, rng)
        drafts.append(_Draft(spec, title, body, theme, published))
    return drafts


def _noise_drafts(rng: random.Random, anchor: datetime) -> list[_Draft]:
    pairs = [(audience, pair) for audience, pairs in _NOISE.items() for pair in pairs]
    dates = _dates(len(pairs), _WEEKLY_WEIGHTS["noise"], rng, anchor)
    rng.shuffle(dates)
    drafts = []
    for (audience, (title, text)), published in zip(pairs, dates, strict=True):
        spec = _pick_feed(audience, rng, off_topic=True)
        drafts.append(_Draft(spec, title, _to_html(_sentences(text), (), spec.home, rng), None, published))
    return drafts


def _pick_feed(audience: str, rng: random.Random, off_topic: bool = False) -> _FeedSpec:
    specs = [spec for spec in _FEEDS if spec.audience == audience and (spec.off_topic or not off_topic)]
    return rng.choices(specs, weights=[spec.weight for spec in specs])[0]


def _dates(count: int, weights: Sequence[float], rng: random.Random, anchor: datetime) -> list[datetime]:
    """``count`` dates over the weeks before ``anchor``, in exact proportion to ``weights``.

    Counts per week use largest remainders, so a theme's trend is the same for every seed.
    """
    total = sum(weights)
    exact = [count * w / total for w in weights]
    per_week = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - per_week[i], reverse=True)
    for i in by_remainder[: count - sum(per_week)]:
        per_week[i] += 1
    dates = []
    for week, n in enumerate(per_week):  # week 0 is the oldest
        newest = (len(per_week) - week - 1) * _MINUTES_PER_WEEK  # minutes before the anchor
        for _ in range(n):
            minutes_ago = rng.randrange(newest, newest + _MINUTES_PER_WEEK)
            dates.append(anchor - timedelta(minutes=minutes_ago))
    return dates


_A_BEFORE_VOWEL = re.compile(r"\b([Aa]) (?=[aeioAEIO])")


def _articles(text: str) -> str:
    """ "a accounting firm" → "an accounting firm" once slots are filled ("u" words keep "a": "a user")."""
    return _A_BEFORE_VOWEL.sub(r"\1n ", text)


def _compose(voice: _Voice, spec: _FeedSpec, rng: random.Random, seen: set[str]) -> tuple[str, list[str]]:
    """A title and 2-3 sentences from ``voice`` within the word limits.

    Texts never repeat (duplicates would be deduplicated downstream and skew counts); titles repeat only
    when the templates run out of fresh ones, as forum titles sometimes do.
    """
    for attempt in range(300):
        slots = {name: rng.choice(options) for name, options in _SLOTS.items()}
        if spec.businesses:
            slots["biz"] = rng.choice(spec.businesses)
        slots["bizname"] = f"{slots['partners']} {slots['biz'].title()}"  # e.g. "Bell & Finch Law Firm"
        parts = [rng.choice(voice.openers), rng.choice(voice.details)]
        if rng.random() < 0.55:
            parts.append(rng.choice(voice.closers))
        sentences = [_articles(part.format_map(slots)) for part in parts]
        text = " ".join(sentences)
        title = _articles(rng.choice(voice.titles).format_map(slots))
        fresh_title = title not in seen or attempt >= 150
        if text not in seen and fresh_title and MIN_WORDS <= len(text.split()) <= MAX_WORDS:
            seen.update((text, title))
            return title, sentences
    raise RuntimeError("demo templates cannot produce another distinct text")  # pragma: no cover


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.?!])\s+", text)


def _to_html(sentences: list[str], keywords: Sequence[str], home: str, rng: random.Random) -> str:
    """Light, realistic markup: paragraphs, an occasional line break, a bold or linked keyword."""
    parts = [html.escape(sentence, quote=False) for sentence in sentences]
    if keywords and rng.random() < 0.5:
        parts = _mark_keyword(parts, keywords, home, rng)
    if len(parts) >= 2 and rng.random() < 0.2:
        paragraphs = [parts[0] + "<br/>\n" + parts[1], *parts[2:]]
    elif len(parts) == 3 and rng.random() < 0.5:
        paragraphs = [f"{parts[0]} {parts[1]}", parts[2]]
    else:
        paragraphs = [" ".join(parts)]
    return "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)


def _mark_keyword(parts: list[str], keywords: Sequence[str], home: str, rng: random.Random) -> list[str]:
    for keyword in rng.sample(list(keywords), len(keywords)):
        pattern = re.compile(rf"\b{re.escape(keyword)}\b", re.IGNORECASE)
        for index, part in enumerate(parts):
            if pattern.search(part):
                if rng.random() < 0.3:
                    href = f"{home}tag/{keyword.replace(' ', '-')}"
                    repl = rf'<a href="{href}">\g<0></a>'
                else:
                    repl = r"<b>\g<0></b>"
                return [*parts[:index], pattern.sub(repl, part, count=1), *parts[index + 1 :]]
    return parts


def _finish_feed(spec: _FeedSpec, drafts: list[_Draft], rng: random.Random) -> DemoFeed:
    """Number the feed's items oldest first (as a forum would), then list them newest first."""
    number = rng.randrange(1000, 9000)
    items = []
    for draft in sorted(drafts, key=lambda d: d.published):
        number += rng.randint(1, 37)
        fields = {"n": number, "slug": _slug(draft.title)}
        items.append(
            DemoItem(
                guid=spec.guid.format_map(fields),
                title=draft.title,
                link=spec.link.format_map(fields),
                author=rng.choice(spec.authors),
                published=draft.published,
                html=draft.html,
                theme=draft.theme,
                audience=spec.audience,
            )
        )
    items.reverse()
    return DemoFeed(
        name=spec.name,
        audience=spec.audience,
        format=spec.format,
        title=spec.title,
        influencer=spec.audience == "influencers",
        items=items,
        home=spec.home,
        description=spec.description,
    )


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].rstrip("-")


def render_feed(feed: DemoFeed) -> bytes:
    """The feed as RSS 2.0 or Atom 1.0 XML, UTF-8 encoded.

    Everything is escaped properly, except the channel title of :data:`MALFORMED_FEED`, which keeps its bare
    ``&`` on purpose.
    """
    render = _render_rss if feed.format == "rss" else _render_atom
    return render(feed).encode("utf-8")


def _feed_title(feed: DemoFeed) -> str:
    return feed.title if feed.name == MALFORMED_FEED else escape(feed.title)


def _cdata(text: str) -> str:
    if "]]>" in text:
        raise ValueError("text cannot go in a CDATA section")
    return f"<![CDATA[{text}]]>"


def _render_rss(feed: DemoFeed) -> str:
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">',
        "<channel>",
        f"<title>{_feed_title(feed)}</title>",
        f"<link>{escape(feed.home)}</link>",
        f"<description>{escape(feed.description)}</description>",
        "<language>en</language>",
        f"<lastBuildDate>{format_datetime(feed.last_modified, usegmt=True)}</lastBuildDate>",
    ]
    for item in feed.items:
        lines += [
            "<item>",
            f"<title>{escape(item.title)}</title>",
            f"<link>{escape(item.link)}</link>",
            f'<guid isPermaLink="{"true" if item.guid == item.link else "false"}">{escape(item.guid)}</guid>',
            f"<dc:creator>{escape(item.author)}</dc:creator>",
            f"<pubDate>{format_datetime(item.published, usegmt=True)}</pubDate>",
            f"<description>{_cdata(item.html)}</description>",
            "</item>",
        ]
    lines += ["</channel>", "</rss>", ""]
    return "\n".join(lines)


def _render_atom(feed: DemoFeed) -> str:
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{_feed_title(feed)}</title>",
        f"<subtitle>{escape(feed.description)}</subtitle>",
        f"<id>{escape(feed.home)}</id>",
        f'<link rel="alternate" href={quoteattr(feed.home)}/>',
        f"<updated>{feed.last_modified.isoformat()}</updated>",
    ]
    for item in feed.items:
        lines += [
            "<entry>",
            f'<title type="text">{escape(item.title)}</title>',
            f"<id>{escape(item.guid)}</id>",
            f'<link rel="alternate" href={quoteattr(item.link)}/>',
            f"<author><name>{escape(item.author)}</name></author>",
            f"<published>{item.published.isoformat()}</published>",
            f"<updated>{item.published.isoformat()}</updated>",
            f'<content type="html">{escape(item.html)}</content>',
            "</entry>",
        ]
    lines += ["</feed>", ""]
    return "\n".join(lines)
