"""The pure scheduler, driven with explicit times: rates, bursts, concurrency, caps,
fairness, priority, affinity, pause/resume/cancel, and a randomised run checked line by
line against the gateway simulator's own rule."""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import pytest

from dispatch.lines.config import GatewayCaps, PoolConfig, parse_lines_config
from dispatch.lines.scheduler import NO_CAPS, NOW, Line, LineScheduler, UnknownName
from tests.lines.test_bucket import simulator_violations


@dataclass(frozen=True)
class Msg:
    campaign: str
    to: str
    seq: int = 0
    parts: int = 1  # SMS parts: the tokens it takes with cost_of


Log = list[tuple[float, Msg, Line]]


def pool(name: str = "p", count: int = 10, **limits: Any) -> PoolConfig:
    raw = {"gateway": "g", "rate": 1.0, **limits,
           "lines": [{"pattern": f"{name.upper()}{{000..{count - 1:03d}}}"}]}
    return parse_lines_config({"pools": {name: raw}}).pools[name]


def scheduler(*pools: PoolConfig, caps: GatewayCaps = NO_CAPS, jitter_s: float = 0.0,
              affinity_cap: int = 10_000) -> LineScheduler[Msg]:
    return LineScheduler(pools or [pool()], attrgetter("to"), caps=caps, jitter_s=jitter_s,
                         affinity_cap=affinity_cap)


def messages(campaign: str, count: int, start: int = 0) -> list[Msg]:
    return [Msg(campaign, f"+3361{i:07d}", i) for i in range(start, start + count)]


def drain(sched: LineScheduler[Msg], until: float, *, start: float = 0.0,
          max_n: int = 1_000, release: bool = True) -> Log:
    """Take everything as soon as it is ready until `until`, releasing at once."""
    now, log = start, []
    for _ in range(1_000_000):  # bounded
        taken = sched.take(now, max_n)
        for message, line in taken:
            log.append((now, message, line))
            if release:
                sched.release(line)
        ready = sched.next_ready_time()
        assert taken or ready > now, "nothing taken yet ready now: would spin"
        if ready > until:
            return log
        now = max(now, ready)
    raise AssertionError("did not finish")


def times(log: Log) -> list[float]:
    return [t for t, _, _ in log]


def test_a_line_goes_at_its_rate() -> None:
    sched = scheduler(pool(count=1, rate=2.0, burst=1))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 10))
    assert times(drain(sched, 2.0)) == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_the_default_burst_is_one_second_of_rate_as_the_simulator_counts() -> None:
    sched = scheduler(pool(count=1, rate=2.0))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 10))
    assert times(drain(sched, 1.0)) == [0.0, 0.0, 0.5, 1.0]


def test_a_fractional_rate_keeps_the_jitter_margin() -> None:
    sched = scheduler(pool(count=1, rate=0.2), jitter_s=0.05)
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 10))
    assert times(drain(sched, 16.0)) == pytest.approx([0.0, 5.05, 10.1, 15.15])


def test_a_burst_then_the_rate() -> None:
    sched = scheduler(pool(count=1, rate=1.0, burst=3))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 10))
    assert times(drain(sched, 3.0)) == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]


def test_a_burst_saves_up_while_idle_but_no_more_than_its_size() -> None:
    sched = scheduler(pool(count=1, rate=1.0, burst=3))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 1))
    drain(sched, 0.0)
    sched.push("c", messages("c", 10))
    assert times(drain(sched, 11.0, start=10.0)) == [10.0, 10.0, 10.0, 11.0]


def test_concurrency_holds_a_line_until_released() -> None:
    sched = scheduler(pool(count=1, rate=1000.0, concurrency=2))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 5))
    woken: list[float] = []
    sched.on_ready = woken.append
    first = sched.take(0.0, 10)
    assert len(first) == 2 and sched.in_flight == 2
    assert sched.take(1.0, 10) == []
    assert sched.next_ready_time() == math.inf
    sched.release(first[0][1])
    assert len(woken) == 1 and woken[0] <= 1.0  # free again, its rate allowing
    assert len(sched.take(1.0, 10)) == 1
    with pytest.raises(ValueError, match="released more often than assigned"):
        for _ in range(3):
            sched.release(first[0][1])


def test_the_gateway_window_caps_assignments_outstanding() -> None:
    sched = scheduler(pool(count=10, rate=100.0), caps=GatewayCaps(window=3))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 20))
    woken: list[float] = []
    sched.on_ready = woken.append
    taken = sched.take(0.0, 100)
    assert len(taken) == 3
    assert sched.next_ready_time() == math.inf
    sched.release(taken[0][1])
    assert min(woken) == NOW  # a window slot: right away
    assert len(sched.take(0.0, 100)) == 1


def test_a_spaced_message_frees_its_window_slot_first_and_its_line_once_sent() -> None:
    sched, _ = parts_scheduler(pool(count=1, rate=0.2, burst=1),
                               caps=GatewayCaps(window=1), jitter_s=0.05)
    sched.set_campaign("c", "p")
    sched.push("c", [Msg("c", f"+336100000{i}", i, parts=2) for i in range(2)])
    [(_, line)] = sched.take(0.0, 10)
    sched.release_window()  # handed to the gateway: its parts go over 5.05 s
    assert sched.in_flight == 0 and line.busy == 1
    assert sched.next_ready_time() == math.inf  # the only line is still busy
    sched.release_line(line, sent_until=7.0)  # the second part had to wait 2 s
    assert sched.next_ready_time() == pytest.approx(12.05)  # 7 + 5 + the margin


def test_answer_timed_lines_of_concurrency_1_keep_the_margin_between_parts_only() -> None:
    sched = LineScheduler([pool(count=1, rate=0.2, burst=1)], attrgetter("to"),
                          jitter_s=0.05, cost_of=attrgetter("parts"), answer_timed=True,
                          on_spaced=lambda message, offsets: spaced.append(offsets))
    spaced: list[tuple[float, ...]] = []
    sched.set_campaign("c", "p")
    sched.push("c", [Msg("c", f"+336100000{i}", i, parts=2 if i == 0 else 1)
                     for i in range(3)])
    [(_, line)] = sched.take(0.0, 10)
    assert spaced == [pytest.approx((0.0, 5.05))]  # the second part: interval + margin
    sched.release(line, sent_until=5.06)  # its answer
    assert sched.next_ready_time() == pytest.approx(10.06)  # one interval, no margin
    [(_, line)] = sched.take(10.06, 10)
    sched.release(line, sent_until=10.07)
    assert sched.next_ready_time() == pytest.approx(15.07)
    concurrent = LineScheduler([pool(count=1, rate=0.2, burst=1, concurrency=2)],
                               attrgetter("to"), jitter_s=0.05, answer_timed=True)
    assert concurrent.lines("p")[0].tolerance == pytest.approx(-0.05)  # keeps its margin


def test_the_gateway_rate_caps_all_lines_together() -> None:
    sched = scheduler(pool(count=100, rate=100.0), caps=GatewayCaps(rate=10.0, burst=5.0))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 1_000))
    log = drain(sched, 10.0)
    assert Counter(times(log))[0.0] == 5
    assert len(log) == 5 + 100
    assert simulator_violations(times(log), 10.0, 5.0) == 0


def parts_scheduler(*pools: PoolConfig, caps: GatewayCaps = NO_CAPS, jitter_s: float = 0.0
                    ) -> tuple[LineScheduler[Msg], dict[Msg, tuple[float, ...]]]:
    """A scheduler charging each message its parts, and the offsets it spaced parts at."""
    spaced: dict[Msg, tuple[float, ...]] = {}
    sched = LineScheduler(pools, attrgetter("to"), caps=caps, jitter_s=jitter_s,
                          cost_of=attrgetter("parts"), on_spaced=spaced.__setitem__)
    return sched, spaced


def test_a_long_message_on_a_burst_1_line_has_its_parts_spaced() -> None:
    sched, spaced = parts_scheduler(pool(count=1, rate=0.2, burst=1), jitter_s=0.05)
    sched.set_campaign("c", "p")
    first, second = (Msg("c", f"+336100000{i}", i, parts=2) for i in range(2))
    sched.push("c", [first, second])
    [(message, line)] = sched.take(0.0, 10)
    assert message == first and spaced[first] == pytest.approx((0.0, 5.05))
    sched.release(line)
    assert sched.next_ready_time() == pytest.approx(10.1)  # after the second part's token


def test_parts_that_fit_the_burst_go_together_and_use_it_up() -> None:
    sched, spaced = parts_scheduler(pool(count=1, rate=1.0, burst=3))
    sched.set_campaign("c", "p")
    sched.push("c", [Msg("c", f"+3361000000{i}", i, parts=3) for i in range(2)])
    [(_, line)] = sched.take(0.0, 10)
    assert spaced == {}  # all three at once
    sched.release(line)
    assert sched.next_ready_time() == pytest.approx(1.0)


def test_the_gateway_rate_counts_parts() -> None:
    sched, _ = parts_scheduler(pool(count=100, rate=100.0),
                               caps=GatewayCaps(rate=10.0, burst=6.0))
    sched.set_campaign("c", "p")
    sched.push("c", [Msg("c", f"+3361{i:07d}", i, parts=3) for i in range(10)])
    assert len(sched.take(0.0, 100)) == 2  # 6 tokens
    assert sched.take(0.0, 100) == []
    assert len(sched.take(0.3, 100)) == 1  # 3 more tokens


def test_weights_share_the_lines_two_to_one() -> None:
    sched = scheduler(pool(count=100, rate=10.0))
    sched.set_campaign("a", "p", weight=2)
    sched.set_campaign("b", "p", weight=1)
    sched.push("a", messages("a", 10_000))
    sched.push("b", messages("b", 10_000))
    log = drain(sched, 5.0)
    count = Counter(m.campaign for _, m, _ in log)
    assert count["a"] / count["b"] == pytest.approx(2.0, rel=0.05)
    assert abs(count["a"] - 2 * count["b"]) <= 2  # stride scheduling is exact


def test_a_higher_priority_takes_every_line_first() -> None:
    sched = scheduler(pool(count=10, rate=10.0))
    sched.set_campaign("urgent", "p", priority=1)
    sched.set_campaign("bulk", "p", weight=100)
    sched.push("bulk", messages("bulk", 1_000))
    sched.push("urgent", messages("urgent", 150))
    order = [m.campaign for _, m, _ in drain(sched, 3.0)]
    assert order[:150] == ["urgent"] * 150
    assert set(order[150:]) == {"bulk"}


def test_a_campaign_joining_late_gets_its_share_not_a_catch_up() -> None:
    sched = scheduler(pool(count=10, rate=10.0))
    sched.set_campaign("a", "p")
    sched.set_campaign("b", "p")
    sched.push("a", messages("a", 10_000))
    drain(sched, 10.0)
    sched.push("b", messages("b", 10_000))
    count = Counter(m.campaign for _, m, _ in drain(sched, 12.0, start=10.0))
    assert count["a"] == pytest.approx(count["b"], abs=2)


def test_pause_stops_at_the_next_take_and_resume_shares_again() -> None:
    sched = scheduler(pool(count=10, rate=10.0))
    for name in ("a", "b"):
        sched.set_campaign(name, "p")
        sched.push(name, messages(name, 1_000))
    drain(sched, 1.0)
    sched.pause("a")
    queued = sched.queued_in("a")
    paused = drain(sched, 3.0, start=1.0)
    assert {m.campaign for _, m, _ in paused} == {"b"}
    assert sched.queued_in("a") == queued
    sched.resume("a")
    count = Counter(m.campaign for _, m, _ in drain(sched, 4.0, start=3.0))
    assert count["a"] == pytest.approx(count["b"], abs=2)  # its share, no catch-up


def test_a_paused_campaign_alone_leaves_the_lines_idle() -> None:
    sched = scheduler(pool(count=2))
    woken: list[float] = []
    sched.on_ready = woken.append
    sched.set_campaign("a", "p")
    sched.push("a", messages("a", 5))
    assert woken == [NOW]
    sched.pause("a")
    assert sched.take(0.0, 10) == [] and sched.next_ready_time() == math.inf
    sched.resume("a")
    assert woken == [NOW, NOW]
    assert len(sched.take(0.0, 10)) == 2


def test_cancel_hands_back_the_queued_messages_in_order() -> None:
    sched = scheduler(pool(count=2))
    sched.set_campaign("a", "p")
    sched.set_campaign("b", "p")
    sched.push("a", messages("a", 10))
    sched.push("b", messages("b", 3))
    taken = sched.take(0.0, 2)
    sent = {m for m, _ in taken}
    returned = sched.cancel("a")
    assert sched.queued == len([m for m in messages("b", 3) if m not in sent])
    assert returned == [m for m in messages("a", 10) if m not in sent]
    assert sched.campaigns == ["b"]
    for _, line in taken:
        sched.release(line)  # in-flight assignments are released as usual
    assert {m.campaign for _, m, _ in drain(sched, 5.0)} == {"b"}
    with pytest.raises(UnknownName, match="campaign 'a' is not scheduled"):
        sched.push("a", messages("a", 1))
    with pytest.raises(UnknownName):
        sched.cancel("a")


def test_a_recipient_keeps_its_line() -> None:
    sched = scheduler(pool(count=50, rate=1.0))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 40))
    first = {m.to: line for _, m, line in drain(sched, 0.0)}
    sched.push("c", list(reversed(messages("c", 40))))  # other order, same recipients
    second = {m.to: line for _, m, line in drain(sched, 20.0, start=10.0)}
    assert second == first
    assert len({line.address for line in first.values()}) == 40


def test_a_busy_line_is_not_waited_for_and_the_recipient_keeps_it() -> None:
    sched = scheduler(pool(count=3, rate=1.0))
    sched.set_campaign("c", "p")
    alice = Msg("c", "+33611111111")
    sched.push("c", [alice])
    [(_, home)] = sched.take(0.0, 10)
    sched.release(home)
    sched.push("c", [alice])
    [(_, elsewhere)] = sched.take(0.5, 10)  # home is not free before 1.0
    assert elsewhere is not home
    sched.release(elsewhere)
    sched.push("c", [alice])
    [(_, again)] = sched.take(2.0, 10)
    assert again is home
    sched.push("c", [alice])
    [(_, busy)] = sched.take(3.0, 10)  # not released: at its concurrency
    assert busy is not home


def test_affinity_is_per_campaign_and_bounded() -> None:
    sched = scheduler(pool(count=10, rate=1.0), affinity_cap=2)
    sched.set_campaign("c", "p")
    sched.push("c", [Msg("c", "+1"), Msg("c", "+2"), Msg("c", "+3")])
    lines = {m.to: line for m, line in sched.take(0.0, 10)}
    for line in lines.values():
        sched.release(line)
    sched.push("c", [Msg("c", "+3"), Msg("c", "+1")])
    again = {m.to: line for m, line in sched.take(5.0, 10)}
    assert again["+3"] is lines["+3"]
    assert again["+1"] is not lines["+1"]  # evicted: least recently used


def test_pools_sharing_a_gateway_share_its_cap() -> None:
    sched = scheduler(pool("a", 10, rate=100.0), pool("b", 10, rate=100.0),
                      caps=GatewayCaps(rate=100.0, burst=10.0))
    sched.set_campaign("ca", "a")
    sched.set_campaign("cb", "b")
    sched.push("ca", messages("ca", 5_000))
    sched.push("cb", messages("cb", 5_000))
    log = drain(sched, 10.0, max_n=7)
    count = Counter(line.pool.name for _, _, line in log)
    assert count["a"] == pytest.approx(count["b"], rel=0.05)
    assert len(log) == 10 + 1000
    assert simulator_violations(times(log), 100.0, 10.0) == 0


def test_campaign_settings_are_checked() -> None:
    sched = scheduler(pool())
    with pytest.raises(UnknownName, match=r"pool 'x' is not served here \(pools: p\)"):
        sched.set_campaign("c", "x")
    with pytest.raises(ValueError, match="weight must be a positive number"):
        sched.set_campaign("c", "p", weight=0)
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 3))
    sched.set_campaign("c", "p", weight=5, priority=2)  # an update keeps the queue
    assert sched.queued_in("c") == 3
    with pytest.raises(UnknownName, match="campaign 'd' is not scheduled"):
        sched.pause("d")


def test_a_campaign_moves_pool_only_when_empty() -> None:
    sched = scheduler(pool("a", 2), pool("b", 2))
    sched.set_campaign("c", "a")
    sched.push("c", messages("c", 1))
    with pytest.raises(ValueError, match="cannot move to pool b with messages queued"):
        sched.set_campaign("c", "b")
    drain(sched, 0.0)
    sched.set_campaign("c", "b")
    sched.push("c", messages("c", 1))
    assert [line.pool.name for _, _, line in drain(sched, 0.0)] == ["b"]


class RandomRun:
    """Random pushes, pauses, resumes and release delays over mixed lines; with
    `max_parts`, messages of 1 to max_parts SMS parts, each part arriving at its offset.
    `answer_timed`: each assignment is released once its last part arrived (with that
    time), and on lines of concurrency 1 a message may also arrive up to half a second late
    as a whole (a batch held up in the event loop), far beyond the margin."""

    def __init__(self, seed: int, max_parts: int = 1, answer_timed: bool = False) -> None:
        self.rng = random.Random(seed)
        raw = {"gateway": "g", "rate": 0.5, "lines": [
            {"pattern": "S{000..099}"},
            {"pattern": "F{000..049}", "rate": 5.0, "burst": 3, "concurrency": 3},
            {"numbers": ["36111", "36112"], "rate": 20.0, "concurrency": 2}]}
        self.pool = parse_lines_config({"pools": {"p": raw}}).pools["p"]
        self.max_parts = max_parts
        self.answer_timed = answer_timed
        self.spaced: dict[int, tuple[float, ...]] = {}  # id(message) -> its parts' offsets
        self.sched = LineScheduler(
            [self.pool], attrgetter("to"), caps=GatewayCaps(rate=150.0, window=60),
            jitter_s=0.05, affinity_cap=500, cost_of=attrgetter("parts"),
            on_spaced=lambda message, offsets: self.spaced.update({id(message): offsets}),
            answer_timed=answer_timed)
        self.sent: dict[str, list[float]] = defaultdict(list)
        self.all_sent: list[float] = []
        self.busy: Counter[str] = Counter()
        self.releases: list[tuple[float, int, Line]] = []  # (time, tie-break, line)
        self.count = 0
        self.spaced_count = 0  # messages whose parts were spaced out

    def step(self, now: float) -> None:
        rng, sched = self.rng, self.sched
        if rng.random() < 0.05:
            name = rng.choice(["a", "b", "c"])
            sched.set_campaign(name, "p", weight=rng.choice([1, 2, 3]))
            sched.push(name, [Msg(name, f"+336{rng.randrange(300):08d}",
                                  parts=rng.randint(1, self.max_parts)) for _ in range(50)])
        if rng.random() < 0.02 and sched.campaigns:
            name = rng.choice(sched.campaigns)
            (sched.pause if rng.random() < 0.5 else sched.resume)(name)
        while self.releases and self.releases[0][0] <= now:
            answered, _, line = heapq.heappop(self.releases)
            self.busy[line.address] -= 1
            sched.release(line, answered if self.answer_timed else -math.inf)
        for message, line in sched.take(now, rng.choice([1, 10, 100])):
            self.record(now, message, line)

    def record(self, now: float, message: Msg, line: Line) -> None:
        self.busy[line.address] += 1
        assert self.busy[line.address] <= line.concurrency
        assert self.sched.in_flight <= 60
        offsets = self.spaced.pop(id(message), None)
        self.spaced_count += offsets is not None
        late = (self.rng.uniform(0.0, 0.5) if self.answer_timed and line.concurrency == 1
                else 0.0)
        last = now
        for offset in offsets or (0.0,) * message.parts:
            last = now + late + offset + self.rng.uniform(0.0, 0.05)  # the network's jitter
            self.sent[line.address].append(last)
            self.all_sent.append(last)
        self.count += 1
        answered = (last if self.answer_timed else now) + self.rng.expovariate(5.0)
        heapq.heappush(self.releases, (answered, self.count, line))

    def next_time(self, now: float) -> float:
        due = self.releases[0][0] if self.releases else math.inf
        return min(self.sched.next_ready_time(), due, now + self.rng.expovariate(20.0))


@pytest.mark.parametrize(("seed", "max_parts", "answer_timed"),
                         [(seed, 1, False) for seed in range(5)]
                         + [(seed, 4, False) for seed in range(5, 8)]
                         + [(seed, parts, True) for seed, parts in ((8, 1), (9, 4), (10, 4))])
def test_random_runs_never_exceed_a_line_or_the_gateway(seed: int, max_parts: int,
                                                        answer_timed: bool) -> None:
    run = RandomRun(seed, max_parts, answer_timed)
    now = 0.0
    for _ in range(20_000):
        run.step(now)
        now = max(now, run.next_time(now))
    limits = dict(run.pool.lines())
    assert run.count > 2_000
    assert (run.spaced_count > 100) == (max_parts > 1)
    for address, arrivals in run.sent.items():
        rate, burst = limits[address].rate, limits[address].burst
        assert simulator_violations(sorted(arrivals), rate, burst) == 0, address
    assert simulator_violations(sorted(run.all_sent), 150.0, 0.0) == 0
