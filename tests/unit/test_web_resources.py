"""The host CPU figure of /api/status: 0-100 % of the whole machine, and each core's share."""

from meso360.web.resources import cpu_percentages, host_cpu_ticks

# /proc/stat: user nice system idle iowait irq softirq steal guest guest_nice (jiffies).
BEFORE = """cpu  1000 0 1000 8000 0 0 0 0 0 0
cpu0 500 0 500 4000 0 0 0 0 0 0
cpu1 500 0 500 4000 0 0 0 0 0 0
intr 12345
ctxt 678
"""
# 100 jiffies later on each core: cpu0 busy all the time (user 60, system 40), cpu1 idle 80 and iowait 20.
AFTER = """cpu  1060 0 1040 8080 20 0 0 0 0 0
cpu0 560 0 540 4000 0 0 0 0 0 0
cpu1 500 0 500 4080 20 0 0 0 0 0
intr 22345
"""


def test_one_busy_core_of_two_is_half_the_machine_not_a_hundred_percent():
    machine, cores = cpu_percentages(host_cpu_ticks(BEFORE), host_cpu_ticks(AFTER))
    assert machine == 50.0
    assert cores == [100.0, 0.0]  # iowait counts as idle


def test_both_cores_busy_is_a_hundred_percent_at_most():
    both_busy = BEFORE.replace("cpu  1000 0 1000 8000", "cpu  1100 0 1100 8000")
    both_busy = both_busy.replace("cpu0 500 0 500", "cpu0 550 0 550").replace("cpu1 500 0 500", "cpu1 550 0 550")
    machine, cores = cpu_percentages(host_cpu_ticks(BEFORE), host_cpu_ticks(both_busy))
    assert (machine, cores) == (100.0, [100.0, 100.0])


def test_no_time_passed_gives_no_figure():
    ticks = host_cpu_ticks(BEFORE)
    assert cpu_percentages(ticks, ticks) == (None, [None, None])
