"""asv conventions: params and param_names declared together and consistent."""

import importlib
import inspect
import pkgutil

import benchmarks


def benchmark_classes():
    for mod in pkgutil.iter_modules(benchmarks.__path__):
        module = importlib.import_module(f"benchmarks.{mod.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):  # asv skips names with a leading _
            if cls.__module__ == module.__name__ and not cls.__name__.startswith("_") and any(
                    n.startswith(("time_", "track_", "mem_", "peakmem_")) for n in dir(cls)):
                yield cls


def test_there_are_benchmarks():
    assert len(list(benchmark_classes())) >= 2


def test_params_and_param_names_match():
    for cls in benchmark_classes():
        params, names = getattr(cls, "params", None), getattr(cls, "param_names", None)
        assert (params is None) == (names is None), cls
        if params is not None:
            assert isinstance(params, tuple) and len(params) == len(names), cls
            for values in params:
                assert len(values) == len(set(values)) > 0, cls


def test_benchmark_workload_parameters_exist():
    """A benchmark over a workload's grid names that workload's own parameters (the suite's own
    overhead benchmark, which has no workload, names its points)."""
    from secfwt import workloads

    with_workload = [cls for cls in benchmark_classes() if getattr(cls, "workload", None)]
    assert len(with_workload) >= 2
    for cls in with_workload:
        names = [p.name for p in workloads.get(cls.workload).params]
        for name in getattr(cls, "param_names", []):
            assert name in names, (cls, name)


def test_each_cached_scenario_has_its_own_setup_cache():
    # asv keys setup_cache by its position in the source: an inherited one would be shared
    # between classes, and each class would read the others' records
    for cls in benchmark_classes():
        if any(n.startswith("track_") for n in dir(cls)):
            assert "setup_cache" in vars(cls), cls
