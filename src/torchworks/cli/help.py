"""``torchworks MODE TASK|RUN --help``: the settings of the task or run, generated from its typed config."""

from __future__ import annotations

from torchworks.cli.arguments import SETTING_NOTE, run_task


GROUP_TITLES = {
    "data": "Data: what to read and how to split it",
    "model": "Model",
    "training": "Training",
    "prediction": "Predictions and evaluation",
    "run": "Run: names, output folder, tracking",
    "other": "Other settings",
}
FILE_NOTE = "key=value; config=FILE.yaml reads them from a file"


def settings_sections(config_class, values=None) -> list[tuple[str, list[str]]]:
    """Every setting of ``config_class`` (name=default, type or choices, description), grouped into
    data, model, training, prediction and run sections (``TrainConfig.grouped_settings``)."""
    from torchworks.config.modes import settings_help

    return [(f"{GROUP_TITLES[group]}:", settings_help(config_class, names=names, values=values))
            for group, names in config_class.grouped_settings().items()]


def task_settings_help(task_name: str) -> list[tuple[str, list[str]]]:
    """``torchworks settings TASK`` and ``torchworks train TASK --help``: the task's settings by group."""
    from torchworks.tasks import get_task

    task = get_task(task_name)
    return [(f"Settings of {task.name} ({FILE_NOTE}):", []),
            *settings_sections(task.config_class, values=_resolved_defaults(task.config_class)),
            (f"Modes of {task.name}: {', '.join(task.modes)} (torchworks MODE --help).", [])]


def _resolved_defaults(config_class) -> dict | None:
    """The values a run gets when it sets nothing but data=: a config may fill some defaults from
    others (a model's own epochs and lr); None when that cannot be worked out without data."""
    from pydantic import ValidationError

    required = {name: "DATA" for name, info in config_class.model_fields.items() if info.is_required()}
    try:
        values = config_class.model_validate(required).model_dump(mode="json")
    except ValidationError:
        return None
    return {name: value for name, value in values.items() if name not in required}


def train_help(task_name: str | None) -> list[tuple[str, list[str]]]:
    from torchworks.config.schema import TrainConfig

    if task_name is not None:
        return task_settings_help(task_name)
    from torchworks.tasks import list_tasks

    names = ", ".join(cls.name for cls in list_tasks())
    return [(f"Settings of every task ({FILE_NOTE}):", []), *settings_sections(TrainConfig),
            (f"Each task adds its own: torchworks settings TASK (or torchworks train TASK --help); tasks: {names}.",
             [])]


def predict_help(run: str | None) -> list[tuple[str, list[str]]]:
    from torchworks.config.modes import PredictSettings, settings_help

    sections = [("Predict settings (key=value):", settings_help(PredictSettings))]
    if run is None:
        return [*sections, ("torchworks predict RUN --help adds the run's prediction options.", []),
                (SETTING_NOTE, [])]
    bundle, task = run_task(run)
    options = settings_help(task.config_class, names=task.prediction_options, values=bundle.config)
    title = (f"Prediction options of this {task.name} run (current values):" if options
             else f"This {task.name} run has no prediction options.")
    return [*sections, (title, options), *_query_section(task), (SETTING_NOTE, [])]


def _query_section(task) -> list[tuple[str, list[str]]]:
    """What a task lets settings ask for (``user=42``): they make one input together."""
    if not task.query_options:
        return []
    return [(f"What to ask for ({', '.join(f'{key}=...' for key in task.query_options)}): given as settings, "
             "they make one input together", [])]


def explain_help(run: str | None) -> list[tuple[str, list[str]]]:
    from torchworks.config.modes import ExplainSettings, settings_help

    sections = [("Explain settings (key=value):", settings_help(ExplainSettings))]
    if run is None:
        return [*sections, ("torchworks explain RUN --help adds the run's methods and their options.", []),
                (SETTING_NOTE, [])]
    _, task = run_task(run)
    if "explain" not in task.modes:
        return [*sections, (f"{task.name} models cannot be explained.", [])]
    methods = ", ".join(task.explain_methods)
    options = ", ".join(f"{name}=..." for name in task.explain_options) or "none"
    return [*sections, (f"Methods of {task.name} (the first is the default): {methods}", []),
            (f"Options of its methods: {options}", []), *_query_section(task), (SETTING_NOTE, [])]


def mode_help(title: str, settings_class) -> list[tuple[str, list[str]]]:
    from torchworks.config.modes import settings_help

    return [(f"{title} (key=value; config=FILE.yaml reads them from a file):", settings_help(settings_class))]


def quickstart_help(task_name: str | None) -> list[tuple[str, list[str]]]:
    from torchworks.engine.catalog import list_samples
    from torchworks.tasks import get_task, list_tasks

    if task_name is None:
        names = [cls.name for cls in list_tasks()]
        return [("Tasks with a recipe (torchworks quickstart TASK --help shows one): " + ", ".join(names), []),
                (f"Samples they use: {', '.join(sorted(s.name for s in list_samples()))}", [])]
    from torchworks.engine.settings import config_as_dict, task_config

    task = get_task(task_name)
    recipe = task.quickstart_settings()
    resolved = config_as_dict(task_config(task, recipe))  # the sample's own defaults under the recipe
    return [(f"Recipe of {task.name}: " + " ".join(f"{key}={value}" for key, value in recipe.items()), []),
            ("Every setting it trains with (override any as key=value):", []),
            *settings_sections(task.config_class, values=resolved)]


def generator_help(name: str | None) -> list[tuple[str, list[str]]]:
    import inspect

    from torchworks.engine.catalog import get_sample, list_samples

    makers = sorted(s.name for s in list_samples() if s.generator is not None)
    sample = get_sample(name) if name else None
    if sample is None or sample.generator is None:
        return [("Samples with a generator (torchworks data make NAME --help): " + ", ".join(makers), [])]
    generator = sample.generator_function()
    lines = []
    for parameter in inspect.signature(generator).parameters.values():
        default = "(required)" if parameter.default is inspect.Parameter.empty else parameter.default
        lines.append(f"  {parameter.name}={default}")
    summary = (inspect.getdoc(generator) or "").split("\n\n")[0].replace("\n", " ")
    return [(f"Settings of the {sample.name} generator (key=value): {summary}", lines)]


def task_as_command(arguments: list[str], commands: set[str]) -> bool:
    """``torchworks TASK --help`` lists the task's settings (True: handled); ``torchworks TASK key=value``
    is a ConfigError naming the mode to put first. False for everything else (a command, a flag)."""
    if not arguments or arguments[0].startswith("-") or arguments[0] in commands:
        return False
    from torchworks.tasks import list_tasks

    names = {cls.name for cls in list_tasks()}
    task = arguments[0].strip().lower().replace("_", "-")
    if task not in names:
        return False
    from torchworks.cli.arguments import HELP, print_sections

    if HELP in arguments:
        print_sections([(f"Usage: torchworks MODE {task} key=value ... (train, quickstart) or torchworks MODE RUN "
                         "(the other modes)", []), *task_settings_help(task)])
        return True
    from torchworks.errors import ConfigError

    raise ConfigError(f"'{arguments[0]}' is a task, not a command", expected="torchworks MODE TASK key=value ...",
                      got=" ".join(["torchworks", *arguments])[:120],
                      hint=f"torchworks train {task} data=...; `torchworks settings {task}` lists its settings")
