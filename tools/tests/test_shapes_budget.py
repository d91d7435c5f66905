"""common.StepBudget: a schedule's length fixed by wall-clock time after a probe (pure logic, a fake clock)."""
import unittest
from unittest import mock

from tools.shapes import common


class FakeClock:
    def __init__(self, seconds_per_step):
        self.now, self.per_step = 1000.0, seconds_per_step

    def time(self):
        return self.now


def run(budget, clock, steps_wanted):
    """Ticks like a training loop; → the steps the loop takes."""
    step = 0
    while step < budget.tick(step) and step < steps_wanted:
        clock.now += clock.per_step
        step += 1
    return step


class StepBudgetTest(unittest.TestCase):
    def test_without_seconds_the_cap_is_the_schedule(self):
        budget = common.StepBudget(500)
        self.assertEqual(run(budget, FakeClock(1.0), 10_000), 500)
        self.assertEqual(budget.total, 500)

    def test_the_probe_shortens_the_schedule_to_what_fits(self):
        clock = FakeClock(0.5)
        with mock.patch.object(common.time, "time", clock.time):
            budget = common.StepBudget(10_000, seconds=60.0, probe=20)
            self.assertEqual(run(budget, clock, 100_000), 120)       # 60 s at 0.5 s a step
        self.assertEqual(budget.total, 120)

    def test_a_fast_step_keeps_the_cap(self):
        clock = FakeClock(0.001)
        with mock.patch.object(common.time, "time", clock.time):
            budget = common.StepBudget(300, seconds=60.0, probe=20)
            self.assertEqual(run(budget, clock, 100_000), 300)

    def test_a_slow_step_still_ends_after_the_probe(self):
        clock = FakeClock(10.0)
        with mock.patch.object(common.time, "time", clock.time):
            budget = common.StepBudget(300, seconds=60.0, probe=20)
            self.assertEqual(run(budget, clock, 100_000), 21)

    def test_the_learning_rate_before_the_decision_does_not_depend_on_it(self):
        for step in range(31):
            self.assertEqual(common.cosine_lr(step, 100_000, 1e-3), common.cosine_lr(step, 200, 1e-3))


class StageBudgetTest(unittest.TestCase):
    def test_the_variable_sets_the_seconds_and_the_cap(self):
        with mock.patch.dict(common.os.environ, {"SHAPES_TEST_SECONDS": "60"}):
            budget = common.step_budget(300, "SHAPES_TEST_SECONDS", share=0.5)
        self.assertEqual((budget.total, budget.seconds), (300 * common.BUDGET_STEP_CAP, 30.0))

    def test_a_cap_of_one_only_ever_shortens_the_schedule(self):
        with mock.patch.dict(common.os.environ, {"SHAPES_TEST_SECONDS": "60"}):
            budget = common.step_budget(300, "SHAPES_TEST_SECONDS", cap=1)
        self.assertEqual((budget.total, budget.seconds), (300, 60.0))

    def test_without_the_variable_the_stage_runs_its_steps(self):
        with mock.patch.dict(common.os.environ, {}, clear=False):
            common.os.environ.pop("SHAPES_TEST_SECONDS", None)
            budget = common.step_budget(300, "SHAPES_TEST_SECONDS")
        self.assertEqual((budget.total, budget.seconds), (300, None))


if __name__ == "__main__":
    unittest.main()
