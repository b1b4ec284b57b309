"""A small mutation pass over the MPC protocols, the tuning steps and the meter.

Each mutant breaks the code the way a real bug would (a mask removed, a sign flipped, a scale
changed, an extra opening, a direction miscounted), then runs the tests that guard that code.
A mutant must make at least one of them fail ("killed"); a mutant that survives means the tests
cannot see that bug.  The source is restored after every mutant, also on Ctrl-C.

    python tools/mutation.py            # every mutant (about 20 min on 2 cores: the selected tests
                                        # first pass on the unmutated code, then fail on each mutant)
    python tools/mutation.py --list     # what each mutant does
    python tools/mutation.py cosine-mask-removed meter-duplex-all-symmetric
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository root
    old: str  # exact text replaced (must occur exactly once)
    new: str
    tests: tuple  # pytest arguments that must fail
    what: str


MUTANTS = (
    Mutant("undeclared-checks-accepted", "secfwt/runner.py",
           "checks = wl.declared_checks(wl.check(state, out))",
           "checks = wl.check(state, out)",
           ("tests/test_workloads.py", "-k", "undeclared_field_fails"),
           "a party returns check fields its workload does not declare, and records carry them"),
    Mutant("code-digest-misses-a-module", "secfwt/results.py",
           '"runner.py", "results.py", "errors.py")',
           '"runner.py", "results.py")',
           ("tests/test_workloads.py", "-k", "code_digest_covers"),
           "records' code_version leaves out a module the workloads import (stale records reused)"),
    Mutant("report-drops-new-check-fields", "secfwt/report/frame.py",
           "row.update({k: v for k, v in Record.from_json(r).checks().items() if _scalar(v)})",
           "row.update({k: v for k, v in Record.from_json(r).checks().items() if k == 'max_abs_err'})",
           ("tests/test_workloads.py", "-k", "new_check_field"),
           "the report's frame keeps only the check fields it knows"),
    Mutant("cosine-mask-removed", "secfwt/mpc/cosine.py",
           "masked = arith.share * angle_multiplier(w, bits) + t_share",
           "masked = arith.share * angle_multiplier(w, bits)",
           ("tests/test_tuning_parity.py", "-k", "delta_is_fresh"),
           "the trig protocol opens m*x without its mask T"),
    Mutant("extra-opening-mid-forward", "secfwt/nn/encoder.py",
           "            h = self.block(i, h, keys)",
           "            h = self.block(i, h, keys)\n            h.get_plain_text()",
           ("tests/test_tuning_parity.py", "-k", "every_opening_between_the_servers_is_masked and softmax"),
           "every block's output is opened to both servers"),
    Mutant("loss-gradient-scaled", "secfwt/tuning/steps.py",
           'grad = (logits.softmax(-1) - onehot).mul(p["loss_scale"] / batch.size)',
           'grad = (logits.softmax(-1) - onehot).mul(2 * p["loss_scale"] / batch.size)',
           ("tests/test_steps.py", "-k", "gradients_match_pytorch_autograd"),
           "the loss gradient is twice what it should be (same direction)"),
    Mutant("adam-update-sign-flipped", "secfwt/tuning/optim.py",
           "assign_(p, p.sub(update.narrow(0, offset, n).reshape(p.size())))",
           "assign_(p, p.add(update.narrow(0, offset, n).reshape(p.size())))",
           ("tests/test_steps.py", "-k", "optimizer_update_matches_plaintext"),
           "Adam climbs the gradient instead of descending it"),
    Mutant("sgd-loss-scale-not-undone", "secfwt/tuning/optim.py",
           'assign_(p, p.sub(p.grad.mul(group["lr"]).div(group["loss_scale"])))',
           'assign_(p, p.sub(p.grad.mul(group["lr"])))',
           ("tests/test_steps.py", "-k", "optimizer_update_matches_plaintext"),
           "SGD applies the loss-scaled gradient (1024x too large)"),
    Mutant("fourier-gelu-sign-flipped", "secfwt/nn/gelus/fourier.py",
           "return x * series.add(0.5)",
           "return x * series.neg().add(0.5)",
           ("tests/test_gelu.py", "-k", "within_1e3 or counts"),
           "the Fourier GeLU's series enters with the wrong sign"),
    Mutant("meter-duplex-all-symmetric", "secfwt/mpc/meter.py",
           "delta.duplex_bytes = nbytes / 2 if op in SYMMETRIC else nbytes",
           "delta.duplex_bytes = nbytes / 2",
           ("tests/test_meter.py", "-k", "duplex"),
           "a one-way reveal is counted as if it went both ways"),
    Mutant("persistent-mask-reuses-a", "secfwt/mpc/persistent.py",
           "a, c = provider.secfwt_fixed_triple(key, arith.share.size(), op.tensor.size(), transpose, device=arith.device)",
           "a, c = op.__dict__.setdefault((tuple(arith.share.size()), transpose), provider.secfwt_fixed_triple(\n"
           "            key, arith.share.size(), op.tensor.size(), transpose, device=arith.device))",
           ("tests/test_persistent.py", "-k", "open_w_minus_b_once"),
           "a fixed-operand product reuses its mask A (products stay right; x1 - x2 leaks)"),
    Mutant("deep-prompt-not-inserted", "secfwt/nn/encoder.py",
           "            if deep_prompts is not None and i > 0:\n                with scope",
           "            if False:\n                with scope",
           ("tests/test_steps.py", "-k", "deep_prompt_gradients"),
           "the MPC encoder ignores the deep prompts of blocks after the first"),
    Mutant("fold-bytes-counted-twice", "secfwt/results.py",
           "bytes=int(round(sum(c.bytes for c in v) / 2))",
           "bytes=int(round(sum(c.bytes for c in v)))",
           ("tests/test_report.py", "-k", "costs_fold"),
           "a record's online bytes add both parties' logs (each byte counted by sender and receiver)"),
    Mutant("extrapolated-time-not-floored", "secfwt/results.py",
           "getattr(self, f) if f in COUNTERS else max(getattr(self, f), 0.0)",
           "getattr(self, f)",
           ("tests/test_report.py", "tests/test_steps.py", "-k", "costs_fold or never_go_negative"),
           "an extrapolation lets a noisy negative per-block time pull the total below what was measured"),
    Mutant("bootstrap-unpaired", "secfwt/report/claims.py",
           'draws += a[s]["correct"][idx].mean(1) - (b[s]["correct"][idx].mean(1) if b is not None else 0.0)',
           'draws += a[s]["correct"][idx].mean(1) - (b[s]["correct"][rng.integers(0, n, size=(BOOTSTRAP_DRAWS, n))]'
           '.mean(1) if b is not None else 0.0)',
           ("tests/test_claims.py", "-k", "paired"),
           "a difference's bootstrap resamples the two methods on different test rows (intervals too wide)"),
    Mutant("checkpoint-chosen-on-test", "secfwt/tuning/selection.py",
           'return max(within, key=lambda row: (row["dev_acc"], row["units"]))',
           'return max(within, key=lambda row: (row.get("test_acc", 0), row["dev_acc"], row["units"]))',
           ("tests/test_claims.py", "tests/test_tuning.py", "-k", "budgets or chosen_on_dev or best_dev"),
           "runs and the report pick each run's checkpoint by its test accuracy"),
    Mutant("verdict-ignores-interval", "secfwt/report/claims.py",
           '        if self.lo > 0:\n            return "better"',
           '        if self.mean > 0:\n            return "better"',
           ("tests/test_claims.py", "-k", "verdicts or paired"),
           "a difference inside the noise is called a win"),
    Mutant("fot-loss-on-test-rows", "secfwt/tuning/runs.py",
           '    train = twin.data.batches["train"]\n    n = prompts.size(0)',
           '    train = twin.data.batches["test"]\n    n = prompts.size(0)',
           ("tests/test_tuning.py", "-k", "never_reads and fot"),
           "FoT's training loss is computed on the test rows"),
    Mutant("sgd-batches-from-test-rows", "secfwt/tuning/runs.py",
           '    train = twin.data.batches["train"]\n    g = torch.Generator()',
           '    train = twin.data.batches["test"]\n    g = torch.Generator()',
           ("tests/test_tuning.py", "-k", "never_reads and sft"),
           "a gradient method draws its batches from the test rows"),
    Mutant("cma-told-negated-loss", "secfwt/tuning/runs.py",
           "            es.tell(zs, losses)",
           "            es.tell(zs, [-x for x in losses])",
           ("tests/test_tuning.py", "-k", "known_minimum"),
           "CMA-ES is told the negated loss (the best of a random population still beats the start)"),
    Mutant("run-reports-best-test-checkpoint", "secfwt/tuning/runs.py",
           "    best = select(trajectory)",
           '    best = max(trajectory, key=lambda row: row["test_acc"])',
           ("tests/test_tuning.py", "-k", "best_dev_checkpoint"),
           "a tuning run reports its best test accuracy instead of the best-dev checkpoint's"),
    Mutant("owner-share-unmasked", "secfwt/mpc/owner.py",
           "masks = [torch.randint(-2**63, 2**63 - 1, ring.shape, generator=self.rng, dtype=torch.int64)",
           "masks = [torch.zeros_like(ring)",
           ("tests/test_owner.py", "tests/test_tuning_parity.py", "-k", "indistinguishable or (uniform_share and softmax)"),
           "the data owner sends its values in the clear (one server gets the value, the other zeros)"),
    Mutant("owner-masks-from-a-fixed-seed", "secfwt/mpc/owner.py",
           "seed if seed is not None else secrets.randbits(63)",
           "seed if seed is not None else 0",
           ("tests/test_owner.py", "-k", "not_reproducible"),
           "without --protocol-seed the owner's masks still come from a fixed (public) seed"),
    Mutant("owner-mask-reused", "secfwt/mpc/owner.py",
           "masks = [torch.randint(-2**63, 2**63 - 1, ring.shape, generator=self.rng, dtype=torch.int64)",
           "masks = [torch.randint(-2**63, 2**63 - 1, ring.shape, generator=torch.Generator().manual_seed(self.rng"
           ".initial_seed()), dtype=torch.int64)",
           ("tests/test_tuning_parity.py", "-k", "uniform_share and softmax"),
           "every frame of a shape reuses the same mask (each looks uniform; two of them give x1 - x2)"),
    Mutant("owner-accept-times-out", "secfwt/mpc/owner.py",
           '        self.listener.settimeout(timeout)',
           '        self.listener.settimeout(timeout or 2.0)',
           ("tests/test_owner.py", "-k", "waits_as_long"),
           "the data owner gives up on servers after a fixed time (a loaded machine fails the run)"),
    Mutant("adam-moments-not-carried", "secfwt/tuning/optim.py",
           "        if key not in self.moments:  # zero-initialised moments",
           "        if True:  # zero-initialised moments",
           ("tests/test_steps.py", "-k", "several_steps"),
           "Adam forgets its moments: every step is a first step (one step cannot see it)"),
    Mutant("adam-bias-correction-dropped", "secfwt/tuning/optim.py",
           "m_hat = m.mul((1 - b1) / (1 - b1**self.t)) if self.t > 1 else m",
           "m_hat = m",
           ("tests/test_steps.py", "-k", "several_steps"),
           "Adam's first moment is not bias-corrected from step 2 on"),
    Mutant("extrapolated-checks-from-the-smallest-run", "secfwt/runner.py",
           "deepest = Record.from_json(runs[d1, b1])",
           "deepest = Record.from_json(runs[d0, b0])",
           ("tests/test_steps.py", "-k", "deepest_largest"),
           "an extrapolated record carries the shallowest, smallest run's errors"),
    Mutant("pool-dealer-generators-carried", "secfwt/mpc/pool.py",
           "    with _seeded_protocol(world_size):\n        server._setup_generators()",
           "    if True:\n        server._setup_generators()",
           ("tests/test_pool.py", "-k", "same_masks_warm_as_cold"),
           "the warm dealer's seeds continue its generator instead of starting where a cold run starts"),
    Mutant("pool-parties-keep-their-prss", "secfwt/mpc/pool.py",
           "        crypten._setup_prng()\n",
           "",
           ("tests/test_pool.py", "-k", "second_point_has"),
           "a warm point keeps the previous point's pseudo-random zero-sharing generators"),
    Mutant("pool-ignores-the-protocol-seed", "secfwt/mpc/pool.py",
           "    return tuple(os.environ.get(name) for name in INHERITED_ENV)",
           "    return ()",
           ("tests/test_pool.py", "-k", "run_cold"),
           "a point sets or clears the protocol seed and still runs in a pool whose processes started without it (or with it)"),
    Mutant("fourier-slope-cos-sign", "secfwt/mpc/cosine.py",
           "+ encode(ckw * sin_d, scale) * table_share[1, i]",
           "- encode(ckw * sin_d, scale) * table_share[1, i]",
           ("tests/test_gelu.py", "-k", "one_beaver"),
           "a cosine term of the Fourier GeLU's derivative with the wrong sign (cos(a - b) taken as cos(a + b))"),
    Mutant("fourier-slope-fresh-opening", "secfwt/nn/gelus/fourier.py",
           "        series, slope = cosine.sine_series(x, self.w, self.orders, self.coefficients, derivative=True)\n",
           "        series = cosine.sine_series(x, self.w, self.orders, self.coefficients)\n"
           "        _, slope = cosine.sine_series(x, self.w, self.orders, self.coefficients, derivative=True)\n",
           ("tests/test_gelu.py", "-k", "one_beaver"),
           "the Fourier GeLU's derivative from a second trig opening instead of the forward's dealt cosines"),
    Mutant("rfa-features-backward-sign", "secfwt/mpc/cosine.py",
           "    return both[0] - both[1]",
           "    return both[0] + both[1]",
           ("tests/test_trig_rfa.py", "-k", "attention_backward_matches"),
           "RFA's feature backward takes d cos = +sin"),
    Mutant("rfa-qk-scale-dropped", "secfwt/nn/encoder.py",
           "qk_scale=self.qk_scales.get(n[\"q\"], 1.0))",
           "qk_scale=1.0)",
           ("tests/test_steps.py", "-k", "gradients_match and cheap"),
           "RFA's q/k normalisation without the model owner's calibrated scale"),
    Mutant("best-against-best-partial-seeds", "secfwt/report/accuracy.py",
           "r.split(\"/\")[0] == r.split(\"/\")[1]",
           "r.split(\"/\")[0] != \"0\"",
           ("tests/test_report.py", "-k", "best_against_best"),
           "a configuration that misses the target in some seed counts as its method's best"),
    Mutant("gelu-clamp-cost-from-backward-runs", "secfwt/report/nonlinear.py",
           "    data = forward_rows(measured_rows(df, \"gelu\"))",
           "    data = measured_rows(df, \"gelu\")",
           ("tests/test_report.py", "-k", "backward_runs"),
           "the clamp's cost per element read off a run that includes the backward"),
    Mutant("piecewise-bits-unscaled", "secfwt/nn/gelus/piecewise.py",
           "        bits._tensor.encode_as_(x._tensor)",
           "        pass",
           ("tests/test_gelu_piecewise.py", "-k", "backward"),
           "the piecewise GeLU's comparison bits left at scale 1: the public 1/2 of its slope rounds to 0"),
    Mutant("piecewise-value-scaled", "secfwt/nn/gelus/piecewise.py",
           "right = [x.mul(0.5), self._series(terms, self.coefficients)]",
           "right = [x.mul(0.5), self._series(terms, self.coefficients) * 1.01]",
           ("tests/test_gelu_piecewise.py", "-k", "five_product_rounds"),
           "the piecewise GeLU's polynomial segment 1% off"),
    Mutant("lookup-index-bit-dropped", "secfwt/mpc/lookup.py",
           "    return ((ring * (1 << shift)) >> (RING_BITS - bits)) & ((1 << bits) - 1)",
           "    return ((ring * (1 << shift)) >> (RING_BITS - bits)) & ((1 << (bits - 1)) - 1)",
           ("tests/test_lookup.py", "-k", "relu or tree_max"),
           "the lookup's table index loses its top bit (the comparison's sign): differences wrap"),
    Mutant("lookup-comparison-threshold-off", "secfwt/mpc/lookup.py",
           "        bit = (v >= 0).long()",
           "        bit = (v >= 1).long()",
           ("tests/test_lookup.py", "-k", "relu or tree_max"),
           "the dealer's comparison table one step off: relu wrong on [0, 2 steps)"),
    Mutant("lookup-chunk-misaligned", "secfwt/mpc/lookup.py",
           "    tables = _tables(a[start:stop], kind, window, precision_bits, args)",
           "    tables = _tables(a[0:stop - start], kind, window, precision_bits, args)",
           ("tests/test_lookup.py", "-k", "chunks"),
           "the dealer tabulates every chunk for the first chunk's masks"),
    Mutant("lookup-mask-removed", "secfwt/mpc/lookup.py",
           "    e = ArithmeticSharedTensor.from_shares(arith.share - a_share, precision=0).reveal()  # the one round",
           "    e = ArithmeticSharedTensor.from_shares(arith.share, precision=0).reveal()  # the one round",
           ("tests/test_tuning_parity.py", "-k", "audit_flags"),
           "the lookup opens the difference itself, unmasked: the audit must call it plaintext"),
    Mutant("exact-truncation-wrap-dropped", "secfwt/mpc/truncation.py",
           "    share = msb_r * (c >= 0).long() * quotient - floor_r  # w floor(2^64 / d) - floor(r / d); int64 wraps mod 2^64",
           "    share = -floor_r",
           ("tests/test_truncation.py",),
           "the exact truncation forgets the wrap bit msb(r) AND NOT msb(c): a quarter of its results fail"),
    Mutant("exact-truncation-mask-removed", "secfwt/mpc/truncation.py",
           "    c = ArithmeticSharedTensor.from_shares(arith.share + r, precision=0).reveal() + offset  # the one round",
           "    c = ArithmeticSharedTensor.from_shares(arith.share, precision=0).reveal() + offset  # the one round",
           ("tests/test_truncation.py", "-k", "masked"),
           "the exact truncation opens the value it truncates, unmasked: the audit must call it plaintext"),
    Mutant("exact-truncation-offset-not-removed", "secfwt/mpc/truncation.py",
           "        share = share + unsigned_floor_div(c, divisor) - torch.div(offset, divisor, rounding_mode=\"floor\")",
           "        share = share + unsigned_floor_div(c, divisor) - torch.div(offset, divisor + 1, rounding_mode=\"floor\")",
           ("tests/test_truncation.py",),
           "the public offset K / d comes off wrong: every quotient is shifted"),
    Mutant("dask-retry-dropped", "secfwt/executors.py",
           "                    if attempt == 1:",
           "                    if attempt == 0:",
           ("tests/test_executors.py", "-k", "killed"),
           "a point whose Dask worker died is not submitted again: its record is an error"),
    Mutant("dask-worker-watch-dropped", "secfwt/executors.py",
           "    threading.Thread(target=watch, name=\"secfwt-worker-watch\", daemon=True).start()",
           "    pass",
           ("tests/test_executors.py", "-k", "killed"),
           "a point server whose worker died runs its point to the end: its parties outlive the worker for the point"),
    Mutant("dask-cancel-event-not-set", "secfwt/executors.py",
           "                cancel.set()",
           "                pass",
           ("tests/test_executors.py", "-k", "ctrl_c"),
           "Ctrl-C leaves a running cluster's point servers and parties computing"),
    Mutant("sweep-records-out-of-grid-order", "secfwt/runner.py",
           "                held[index] = record",
           "                held[written] = record",
           ("tests/test_executors.py", "-k", "interrupted"),
           "records are stored in the order points finish, not in grid order"),
    Mutant("sweep-held-records-dropped-on-interrupt", "secfwt/runner.py",
           "                store.append(held[index])",
           "                pass",
           ("tests/test_executors.py", "-k", "interrupted"),
           "an interrupted sweep loses the records that finished after a point still running"),
    Mutant("dask-nanny-environment-kept", "secfwt/executors.py",
           "            env.pop(name)",
           "            pass",
           ("tests/test_executors.py", "-k", "environment"),
           "points run under the nanny's MALLOC_TRIM_THRESHOLD_ (a FoT run 45% slower)"),
    Mutant("lookup-softmax-shift-lets-exp-overflow", "secfwt/nn/attention.py",
           "        shifted = x - lut.tree_max(x, dim, diff)",
           "        shifted = x - lut.tree_max(x, dim, diff) + diff.step * 16",
           ("tests/test_lookup.py", "-k", "softmax"),
           "the softmax shift 8 units below the max: exp's values reach e^8 and the denominator leaves its window"),
    Mutant("softmax-variant-label-dropped", "secfwt/report/accuracy.py",
           "        extra.append(attn.lookup(attention).label)",
           "        pass",
           ("tests/test_report_steps.py", "-k", "committed_paper_table or full_depth_error"),
           "softmax-lookup's rows carry softmax-stable's label: tables that look rows up by label merge them"),
    Mutant("agreement-windows-unweighted", "secfwt/report/accuracy.py",
           '"agree": int(round((runs["test_agreement"] * runs["test_rows"]).sum())),',
           '"agree": int(round(runs["test_agreement"].mean() * runs["test_rows"].sum())),',
           ("tests/test_inference_table.py", "-k", "agreement"),
           "the windows' agreement averaged unweighted by their sentences"),
    Mutant("unit-price-from-a-depth-sweep", "secfwt/report/accuracy.py",
           '        if p.get("layers", -1) != -1:\n',
           '        if False:\n',
           ("tests/test_tuning.py", "-k", "only_a_step"),
           "a 1-block point of the Adam sweep prices the whole tuning runs (SST-2 SFT at half its cost)"),
    Mutant("published-rounds-two-round-trips", "secfwt/report/inference.py",
           "                                                       round_trips=PUBLISHED_ROUND_TRIPS)",
           "                                                       )",
           ("tests/test_inference_table.py", "-k", "anchors"),
           "published protocols' rounds charged CrypTen's two round trips each"),
    Mutant("target-reached-on-the-test-peak", "secfwt/report/accuracy.py",
           "            reported = reported_accuracy(run)\n",
           "            reported = run[\"test_acc\"]\n",
           ("tests/test_tuning.py", "-k", "keep_final"),
           "cost to target counts a checkpoint the test split would pick, not the run's best-dev one"),
    Mutant("target-past-the-common-budget", "secfwt/report/accuracy.py",
           "            run = sub[(sub[\"seed\"] == seed) & (sub[\"units\"] <= common)].sort_values(\"units\")",
           "            run = sub[sub[\"seed\"] == seed].sort_values(\"units\")",
           ("tests/test_tuning.py", "-k", "keep_final"),
           "a seed run past the others' budget reaches the target there"),
    Mutant("noisy-extrapolated-compute-timed", "secfwt/report/frame.py",
           "        if compute_from_noise(r):",
           "        if False:",
           ("tests/test_report_steps.py", "-k", "compute_that_did_not"),
           "an extrapolated compute that shrank with depth is reported as 24 blocks at no compute"),
    Mutant("provenance-first-commit", "secfwt/report/frame.py",
           'and (row["last"] is None or env["date"] >= row["last"]):',
           'and row["last"] is None:',
           ("tests/test_report_steps.py", "-k", "provenance"),
           "the provenance table names the first record's commit beside the last date"),
    Mutant("sweeps-not-sharing-the-pool", "secfwt/cli.py",
           "        if out and workloads.get(sweep.workload).plaintext and out[-1][0] == sweep.workload:",
           "        if False:",
           ("tests/test_cli.py", "-k", "share_one_pool"),
           "each plaintext sweep its own pool: a core idles through every sweep's last run"),
    Mutant("finished-run-not-kept-beside-its-state", "secfwt/runner.py",
           '    if checkpoint is not None and record.get("status") != "error":\n        path = Path(',
           '    if False:\n        path = Path(',
           ("tests/test_cli.py", "-k", "killed_launcher"),
           "a run finished while an earlier one ran is lost with a killed launcher and runs again"),
    Mutant("repeated-point-run-twice", "secfwt/runner.py",
           "        if key not in done and key not in seen:",
           "        if key not in done:",
           ("tests/test_cli.py", "-k", "killed_launcher"),
           "a point two grids share runs twice, two workers on one state file"),
    Mutant("not-distinguishable-called-comparable", "secfwt/report/claims.py",
           "        if -margin <= self.lo and self.hi <= margin:",
           "        if self.lo <= 0 <= self.hi or (-margin <= self.lo and self.hi <= margin):",
           ("tests/test_claims.py", "-k", "verdicts_follow"),
           "claim 1 calls an interval that holds 0 but reaches past the margin 'comparable'"),
    Mutant("untuned-head-from-any-run", "secfwt/report/claims.py",
           "        for seed, rows in sub[sub[\"paper_forward\"]].groupby(\"seed\"):",
           "        for seed, rows in sub.groupby(\"seed\"):",
           ("tests/test_claims.py", "-k", "untuned_head_is_read"),
           "the untuned head reads a run with RFA or the Fourier GeLU: another model's zero-shot accuracy"),
    Mutant("rfa-cost-against-uncut-softmax", "secfwt/report/claims.py",
           "            soft = at_budget(records, task, base, budget)",
           "            soft = runs_of(summary, task, base)",
           ("tests/test_claims.py", "-k", "rfa_costs_a_gradient_method"),
           "RFA's cost is read against the softmax run's own longer budget, not cut at the RFA runs'"),
    Mutant("rfa-penalty-from-any-rfa-run", "secfwt/report/claims.py",
           "                 for _, r in sub[sub[\"rfa_forward\"]].iterrows()}",
           "                 for _, r in sub.iterrows()}",
           ("tests/test_claims.py", "-k", "rfa_costs_a_gradient_method"),
           "RFA's penalty on the untuned head reads a run that also changes the GeLU: another model's zero-shot"),
    Mutant("extrapolation-without-the-triple-term", "secfwt/runner.py",
           "    for size in range(len(moving) + 1):",
           "    for size in range(min(len(moving), 2) + 1):",
           ("tests/test_steps.py", "-k", "multilinear"),
           "a three-axis extrapolation drops the depth x batch x population term: a generation's per-row cost"),
    Mutant("pool-owner-address-stale", "secfwt/mpc/pool.py",
           "            os.environ[ADDRESS_ENV] = spec[\"owner\"]",
           "            os.environ.setdefault(ADDRESS_ENV, spec[\"owner\"])",
           ("tests/test_pool.py", "-k", "own_data_owner"),
           "a warm party keeps the first point's data owner address: a later point reaches an owner that is gone"),
)


def _pytest(tests: tuple) -> int:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                          cwd=ROOT, capture_output=True, text=True).returncode


def run(mutant: Mutant) -> tuple[str, float]:
    path = ROOT / mutant.path
    source = path.read_text()
    if source.count(mutant.old) != 1:
        return "stale (the code it mutates changed: update the mutant)", 0.0
    t0 = time.monotonic()
    try:
        path.write_text(source.replace(mutant.old, mutant.new))
        code = _pytest(mutant.tests)
    finally:
        path.write_text(source)
    if code == 5:
        return "no test selected (update the mutant's tests)", time.monotonic() - t0
    return ("killed" if code != 0 else "SURVIVED"), time.monotonic() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="mutants to run (default: all)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the first pass that checks the selected tests pass on the unmutated code")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTANTS}
    if unknown:
        print(f"unknown mutant(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if args.list:
        for m in chosen:
            print(f"{m.name:<28} {m.path}: {m.what}")
        return 0
    if not args.no_baseline:  # a kill only counts if the same tests pass without the mutant
        for tests in dict.fromkeys(m.tests for m in chosen):
            if _pytest(tests) != 0:
                print(f"the unmutated code fails {' '.join(tests)}: fix that first", file=sys.stderr)
                return 1
    bad = 0
    for m in chosen:
        verdict, seconds = run(m)
        bad += verdict != "killed"
        print(f"{m.name:<28} {verdict:<10} {seconds:6.0f} s  {m.what}", flush=True)
    print(f"{len(chosen) - bad} of {len(chosen)} mutants killed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
