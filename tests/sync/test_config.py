import re
from pathlib import Path

import pytest

from sync.config import ConfigError, Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_example_config_documents_the_defaults():
    assert load_settings(EXAMPLE, environ={}) == load_settings(None, environ={})


def test_environment_overrides_the_file(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "sqlite:///from-file.db"\n[sync]\ntrailing_days = 3\n')
    settings = load_settings(
        config, environ={"DATABASE_URL": "postgresql://db/x", "CODEX_API_KEY": "k" * 12}
    )
    assert settings.database.url == "postgresql://db/x"
    assert settings.codex.api_key == "k" * 12
    assert settings.sync.trailing_days == 3


def test_config_path_may_come_from_codexbot_config(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[sync]\ninterval_minutes = 15\n")
    assert load_settings(None, environ={"CODEXBOT_CONFIG": str(config)}).sync.interval_minutes == 15


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[digest]\ntime = "25:00"\n', "digest.time"),
        ('[digest]\nday = "someday"\n', "digest.day"),
        ('[digest]\ntimezone = "Mars/Olympus"\n', "digest.timezone"),
        ("[digest]\none_on_one_lead_minutes = 0\n", "digest.one_on_one_lead_minutes"),
        ("[digest]\none_on_one_lead_minutes = 1441\n", "digest.one_on_one_lead_minutes"),
        ("[sync]\nbackfill_days = 120\n", "sync.backfill_days"),
        ("[codex]\npage_size = 0\n", "codex.page_size"),
        ('[database]\nurl = "mysql://x"\n', "database.url"),
        ('[codex]\napi_base_url = "http://[::1/v1"\n', "codex.api_base_url"),
        ('[codex]\napi_base_url = "ftp://example.com"\n', "codex.api_base_url"),
        ('[scim]\npublic_url = "codexbot.example.com/scim/v2"\n', "scim.public_url"),
        ('[scim]\npublic_url = "https://codexbot.example.com/scim/v2?x=1"\n', "scim.public_url"),
        ("[slack]\ntypo_key = 1\n", "slack.typo_key"),
    ],
)
def test_a_bad_value_fails_naming_its_key(tmp_path, text, key):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(config, environ={})


def test_missing_or_broken_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[sync\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, environ={})


def test_example_config_names_every_setting():
    """Every key of every section is in config.example.toml, set to its default, as a
    commented line (secrets, unset options) or as a table of its own: the file is the
    settings' reference."""
    text = EXAMPLE.read_text()
    sections = {
        match.group(1): match.start()
        for match in re.finditer(r"^\[([a-z_.]+)\]\s*$", text, flags=re.MULTILINE)
    }
    missing = []
    for section, field in Settings.model_fields.items():
        assert section in sections, f"[{section}] is not in config.example.toml"
        start = sections[section]
        later = [position for position in sections.values() if position > start]
        block = text[start : min(later, default=len(text))]
        for key in field.annotation.model_fields:
            as_table = f"{section}.{key}" in sections  # [org.columns]
            if not as_table and not re.search(rf"^\s*#?\s*{key}\s*=", block, flags=re.M):
                missing.append(f"{section}.{key}")
    assert not missing, f"not in config.example.toml: {missing}"


def test_the_scim_public_url_comes_without_its_trailing_slash():
    environ = {"SCIM_PUBLIC_URL": "https://codexbot.example.com/scim/v2/"}
    assert load_settings(None, environ=environ).scim.public_url == (
        "https://codexbot.example.com/scim/v2"
    )
