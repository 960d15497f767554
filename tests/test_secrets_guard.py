"""Tests of the environment-variable secrets guard (azure_trainer.secrets_guard).

Fake secrets are assembled from pieces so that secret scanners do not flag this file.
"""

from __future__ import annotations

import pytest

from azure_trainer.secrets_guard import REDACTED, check_environment_variables, classify, redact_env

RAND = "q7Xk2Lm9Pz4Rt8Wv1Ys6Bn3Cd5Fg0Hj"  # 32 mixed-case alphanumerics

FAKE_VALUES = {
    "azure_conn": "DefaultEndpointsProtocol=https;AccountName=acct;" + "Account" + "Key=" + RAND + "==;",
    "account_key_only": "Account" + "Key=" + RAND,
    "sas_conn": "BlobEndpoint=https://a.blob.core.windows.net/;" + "SharedAccess" + "Signature=sv=2022&sig=x",
    "servicebus": "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=R;"
    + "SharedAccess"
    + "Key=abc",
    "sas_token": "sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&" + "sig=" + RAND + "%3D",
    "sas_url": "https://acct.blob.core.windows.net/c?sp=r&se=2030-01-01&sv=2022-11-02&sr=c&" + "sig=" + RAND,
    "jwt": "ey" + "JhbGciOiJIUzI1NiJ9." + "ey" + "JzdWIiOiIxMjM0NTY3ODkwIn0.abcDEF123_-x",
    "github": "gh" + "p_" + RAND + "abcd",
    "github_pat": "github" + "_pat_" + RAND + "_" + RAND,
    "aws": "AK" + "IA" + "ABCDEFGHIJ234567",
    "private_key": "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----",
    "openssh_key": "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3BlbnNz\n",
    "openai": "s" + "k-proj-" + RAND + "0123",
    "anthropic": "s" + "k-ant-api03-" + RAND,
    "hf": "h" + "f_" + RAND + "AbCd",
    "slack": "xo" + "xb-123456789012-" + RAND,
    "db_url": "postgres://admin:" + "hunter2" + "@db.example.com:5432/app",
}


def _all_messages(findings) -> str:
    return "\n".join(f.message for f in findings)


# ---------------------------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "HF_TOKEN",
        "WANDB_API_KEY",
        "AZURE_CLIENT_SECRET",
        "DB_PASSWORD",
        "DB_PASSWD",
        "MYSQL_PWD",
        "DB_PASS",
        "GITHUB_TOKEN",
        "OPENAI_API_KEY",
        "OPENAI_APIKEY",
        "AWS_SECRET_ACCESS_KEY",
        "STORAGE_ACCOUNT_KEY",
        "STORAGE_SAS",
        "AZURE_STORAGE_CONNECTION_STRING",
        "DB_CONN_STR",
        "SERVICE_CREDENTIALS",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "SSH_KEY",
        "hfToken",
        "apiKey",
        "my-secret",
        "ACCESS_TOKEN",
        "SECRET",
        "KEY",
    ],
)
def test_secret_names_are_errors(name):
    (f,) = check_environment_variables({name: "some-plain-value"})
    assert f.severity == "error"
    assert f.code == "secret-in-env"
    assert name in f.message
    assert "its name contains" in f.message


@pytest.mark.parametrize(
    "name",
    [
        "TOKENIZERS_PARALLELISM",
        "KEYBOARD_LAYOUT",
        "MONKEY",
        "NUM_KEYS",
        "MAX_TOKENS",
        "PAD_TOKEN",
        "EOS_TOKEN",
        "MAX_TOKEN_LENGTH",
        "PWD",
        "OLDPWD",
        "PASSES",
        "KEY_VAULT_NAME",
        "AZURE_KEYVAULT_URL",
        "HF_TOKEN_SECRET_NAME",
        "AZURE_FEDERATED_TOKEN_FILE",
        "SSH_PUBLIC_KEY",
        "AWS_ACCESS_KEY_ID",
        "SORT_KEY",
        "LABEL_KEY",
        "SASL_MECHANISM",
        "PASSTHROUGH",
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "CUDA_VISIBLE_DEVICES",
        "NCCL_DEBUG",
        "OMP_NUM_THREADS",
        "PYTHONUNBUFFERED",
        "MLFLOW_TRACKING_URI",
        "WANDB_PROJECT",
        "HF_HOME",
        "TRANSFORMERS_CACHE",
        "SECRETARY",
        "TOKENIZER_NAME",
    ],
)
def test_ordinary_names_are_not_flagged(name):
    assert check_environment_variables({name: "plain value 1"}) == []


def test_secret_name_with_empty_value_is_not_flagged():
    assert check_environment_variables({"HF_TOKEN": "", "DB_PASSWORD": "  "}) == []


def test_secret_name_holding_a_file_path_is_not_flagged():
    env = {"GOOGLE_APPLICATION_CREDENTIALS": "/secrets/gcp/sa.json", "HF_TOKEN": "/run/secrets/hf"}
    assert check_environment_variables(env) == []


# ---------------------------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(FAKE_VALUES))
def test_secret_values_are_errors_under_innocent_names(kind):
    value = FAKE_VALUES[kind]
    (f,) = check_environment_variables({"SETTING": value})
    assert f.severity == "error"
    assert f.code == "secret-in-env"
    assert "SETTING" in f.message
    assert "its value looks like" in f.message


@pytest.mark.parametrize(
    "value",
    [
        "",
        "true",
        "1",
        "/mnt/azureml/cr/j/0123456789abcdef/exe/wd",
        "https://myws.api.azureml.ms/mlflow/v1.0/subscriptions/x",
        "0123456789abcdef0123456789abcdef01234567",  # a git SHA: hex, low entropy
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",  # a GUID
        "/subscriptions/3f2504e0-4f89-11d3-9a0c-0305e82c3301/resourceGroups/rg-ML-Prod01/providers"
        "/Microsoft.MachineLearningServices/workspaces/ws01",
        "meta-llama/Llama-2-7b-chat-hf",
        "mistralai/Mixtral-8x7B-Instruct-v0.1",
        "Standard_NC24ads_A100_v4",
        "sklearn",
        "sk-learn",
        "hf_transfer",
        "http://localhost:8080/path@v1",
        "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04:latest",
        "expandable_segments:True",
        "sig=abc",  # a lone sig= without SAS fields
    ],
)
def test_ordinary_values_are_not_flagged(value):
    assert check_environment_variables({"SETTING": value}) == []


def test_a_long_signature_without_its_sas_fields_is_still_a_sas():
    url = "https://acct.blob.core.windows.net/c/data?" + "sig=" + RAND[:40] + "%3D"
    (f,) = check_environment_variables({"DATA_URL": url})
    assert f.is_error and RAND[:40] not in f.message
    from azure_trainer.secrets_guard import redact_path

    assert redact_path(url) == url.split("sig=")[0] + "sig=***"


@pytest.mark.parametrize("wrapper", ["({})", "<{}>", "'{}'"])
def test_a_signature_in_brackets_or_quotes_is_hidden_without_its_closing_character(wrapper):
    """An error message quotes a SAS URL in brackets: the bracket is not part of the signature."""
    from azure_trainer.secrets_guard import redact_text

    url = "https://acct.blob.core.windows.net/c/x?sv=2022-11-02&se=2030-01-01&sr=b&sp=r&" + "sig=" + RAND
    text = f"reading {wrapper.format(url)} failed"
    assert redact_text(text) == f"reading {wrapper.format(url.split('sig=')[0] + 'sig=***')} failed"


def test_long_random_value_is_a_warning():
    (f,) = check_environment_variables({"SETTING": RAND + RAND})
    assert f.severity == "warning"
    assert f.code == "possible-secret-in-env"
    assert "preflight: {allow: [" in f.message


def test_azure_storage_account_key_value_is_flagged():
    key = (RAND + RAND[::-1] + RAND)[:86] + "=="  # 88 base64 chars, like a storage account key
    hit = classify("SETTING", key)
    assert hit is not None and hit.severity == "warning"


# ---------------------------------------------------------------------------------------------
# messages never contain the value; they say how to fix it
# ---------------------------------------------------------------------------------------------


def test_messages_never_contain_the_value():
    env = {f"VAR_{i}": v for i, v in enumerate(FAKE_VALUES.values())}
    env.update({"HF_TOKEN": "hunter2-hunter2", "RANDOM": RAND + RAND, "DB_PASSWORD": "Zq9!vX#w"})
    findings = check_environment_variables(env)
    assert len(findings) == len(env)
    text = _all_messages(findings)
    for value in env.values():
        assert value not in text
        # nor any recognisable part of it
        for chunk in (value[i : i + 8] for i in range(0, max(len(value) - 8, 1), 4)):
            if len(chunk) == 8 and chunk.strip():
                assert chunk not in text, chunk
    assert RAND[:6] not in text
    assert "hunter2" not in text


def test_message_explains_the_fix():
    (f,) = check_environment_variables({"HF_TOKEN": "abc"})
    assert "Azure ML Studio" in f.message
    assert "Key Vault" in f.message
    assert "managed identity" in f.message
    assert "add it to `preflight: {allow: [HF_TOKEN]}` in the job config" in f.message


def test_findings_follow_env_order():
    env = {"B_TOKEN": "x", "SAFE": "1", "A_PASSWORD": "y"}
    assert [f.message.split()[2] for f in check_environment_variables(env)] == ["B_TOKEN", "A_PASSWORD"]


# ---------------------------------------------------------------------------------------------
# allow list
# ---------------------------------------------------------------------------------------------


def test_allow_list_skips_names():
    env = {"HF_TOKEN": "abc", "WANDB_API_KEY": "def", "SETTING": FAKE_VALUES["jwt"]}
    findings = check_environment_variables(env, allow=["HF_TOKEN", "SETTING"])
    assert len(findings) == 1 and "WANDB_API_KEY" in findings[0].message
    assert check_environment_variables(env, allow=iter(env)) == []


def test_allow_list_is_exact_case():
    findings = check_environment_variables({"HF_TOKEN": "abc"}, allow=["hf_token"])
    assert len(findings) == 1


# ---------------------------------------------------------------------------------------------
# redact_env
# ---------------------------------------------------------------------------------------------


def test_redact_env():
    env = {
        "HF_TOKEN": "abc",
        "SETTING": FAKE_VALUES["azure_conn"],
        "RANDOM": RAND + RAND,
        "TOKENIZERS_PARALLELISM": "false",
        "EMPTY_SECRET": "",
        "OMP_NUM_THREADS": "4",
    }
    out = redact_env(env)
    assert out == {
        "HF_TOKEN": REDACTED,
        "SETTING": REDACTED,
        "RANDOM": REDACTED,
        "TOKENIZERS_PARALLELISM": "false",
        "EMPTY_SECRET": "",
        "OMP_NUM_THREADS": "4",
    }
    assert list(out) == list(env)
    assert env["HF_TOKEN"] == "abc"  # input untouched


def test_redact_env_respects_allow():
    assert redact_env({"HF_TOKEN": "abc"}, allow=["HF_TOKEN"]) == {"HF_TOKEN": "abc"}


def test_module_stays_light():
    import subprocess
    import sys

    code = "import sys, azure_trainer.secrets_guard; print('azure.ai.ml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------
# the command line and input paths
# ---------------------------------------------------------------------------------------------


def test_secret_looking_arguments_are_errors_and_never_shown():
    from azure_trainer.secrets_guard import check_command_line

    args = {
        "lr": 0.01,
        "db-password": "hunter2pw",
        "api-key": FAKE_VALUES["openai"],
        "resume": True,
        "data": "${{inputs.data}}",
        "checkpoint-dir": "/mnt/checkpoints/run1",
        "notes": FAKE_VALUES["db_url"],
    }
    findings = check_command_line(args, None)
    assert [(f.code, f.message.split(" looks")[0]) for f in findings] == [
        ("secret-in-args", "Argument `--db-password`"),
        ("secret-in-args", "Argument `--api-key`"),
        ("secret-in-args", "Argument `--notes`"),
    ]
    text = _all_messages(findings)
    assert "hunter2" not in text and FAKE_VALUES["openai"] not in text
    assert check_command_line(args, None, allow=["db-password", "api-key", "notes"]) == []
    assert check_command_line({"token": "${{inputs.token}}", "seed": 7, "layers": [64, 32]}, None) == []


def test_a_command_with_a_known_secret_format_is_an_error():
    from azure_trainer.secrets_guard import check_command_line

    [f] = check_command_line({}, f"python train.py --hf {FAKE_VALUES['hf']}")
    assert (
        f.code == "secret-in-args"
        and "Hugging Face token" in f.message
        and FAKE_VALUES["hf"] not in f.message
    )
    assert check_command_line({}, "python train.py --lr 0.1 --data ${{inputs.data}}") == []


def test_input_paths_with_credentials_are_errors():
    from azure_trainer.secrets_guard import check_input_paths

    findings = check_input_paths(
        {
            "sas": FAKE_VALUES["sas_url"],
            "asset": "azureml:digits@latest",
            "store": "azureml://datastores/workspaceblobstore/paths/digits/",
            "public": "https://example.com/data.csv",
            "literal": None,
        }
    )
    assert [f.code for f in findings] == ["secret-in-input-path"]
    assert "Input sas's path holds a SAS token" in findings[0].message
    assert "sig=" not in findings[0].message and "datastore" in findings[0].message


# ---------------------------------------------------------------------------------------------
# every form a shell or argparse accepts
# ---------------------------------------------------------------------------------------------

PW = "hunter2-" + "Xy9"


@pytest.mark.parametrize(
    "command",
    [
        f"python train.py --password={PW}",
        f"python train.py --password {PW}",
        f"python train.py '--password={PW}'",
        f'python train.py --password="{PW}"',
        f"python train.py --password '{PW}'",
        f"python train.py --db.password={PW}",
        f"DB_PASSWORD={PW} python train.py",
        f"python train.py db.password={PW}",  # Hydra-style override
        f"python train.py -password {PW}",  # a single-dash long option
        f"python train.py --pass {PW}",  # an abbreviation argparse accepts (PASS is a secret part)
        f"cd src && python train.py --password {PW} ; echo done",
        f"python train.py --lr 0.1 \\\n  --password {PW}",
        f"python train.py --password=\"{PW[:4]}\"'{PW[4:]}'",  # one word from two quoted parts
    ],
)
def test_a_secret_option_is_caught_in_every_form_and_never_shown(command):
    from azure_trainer.secrets_guard import check_command_line, redact_command

    findings = check_command_line({}, command)
    assert [f.code for f in findings] == ["secret-in-args"], command
    assert PW not in findings[0].message and PW[:6] not in findings[0].message
    shown, labels = redact_command(command)
    assert PW not in shown and PW[4:] not in shown and REDACTED in shown and labels


def test_short_options_are_judged_through_the_scripts_own_add_argument(tmp_path):
    from azure_trainer.secrets_guard import check_command_line, redact_command
    from azure_trainer.secrets_guard._options import read_script_options

    script = tmp_path / "train.py"
    script.write_text(
        "import argparse\np = argparse.ArgumentParser()\n"
        'p.add_argument("-p", "--password")\np.add_argument("-k", dest="api_key")\n'
        'p.add_argument("-n", "--num-layers", type=int)\np.add_argument("--passes", type=int)\n'
    )
    options = read_script_options(script)
    assert options.names("-p") == ("p", "password") and options.names("-k") == ("k", "api_key")
    assert options.names("--passw") == ("p", "password")  # a unique prefix, as argparse resolves it
    for command in (f"python train.py -p {PW}", f"python train.py -p{PW}", f"python train.py -k={PW}"):
        (finding,) = check_command_line({}, command, options=options)
        assert "`-p` (`--password` of the script)" in finding.message or "`-k`" in finding.message
        assert PW not in redact_command(command, options=options)[0]
    # the declared --passes makes --passe an abbreviation of a number, not a password
    assert check_command_line({}, "python train.py --passe 3 -n 4", options=options) == []
    # without the script, -p is only judged by its value (a plain word is not flagged)
    assert check_command_line({}, f"python train.py -p {PW}") == []


def test_the_script_is_found_from_the_job_and_only_parsed_when_it_declares_a_secret(tmp_path):
    from guard_jobs import spec as job_spec

    from azure_trainer.secrets_guard import check_job_secrets, script_options

    spec = job_spec(tmp_path, f"python main.py -p {PW}")
    assert script_options(spec).names("-p") == ("p", "password")
    (finding,) = check_job_secrets(spec)
    assert finding.code == "secret-in-args" and "add p to `preflight" in finding.message
    assert check_job_secrets(job_spec(tmp_path, f"python main.py -p {PW}", allow=["password"])) == []
    plain = job_spec(tmp_path / "plain", "python t.py -p 80")
    (plain.code / "t.py").write_text(
        "import argparse\nargparse.ArgumentParser().add_argument('-p', '--port')\n"
    )
    assert script_options(plain).options == {}  # declares no secret: not worth parsing
    assert check_job_secrets(plain) == []


def test_values_that_are_not_secrets_pass(tmp_path):
    from azure_trainer.secrets_guard import check_command_line

    for command in (
        "python train.py --password ${{inputs.pw}}",  # a placeholder: filled in by Azure ML
        'python train.py --password "$DB_PASSWORD"',  # read from the environment at run time
        "python train.py --password-file /run/secrets/db",
        "python train.py --token-file=/run/secrets/hf --lr -0.5 --max-tokens 512",
        "python train.py --num-keys 4 -v -vv --sort-key name",
        "python -m torch.distributed.run --nproc-per-node 2 train.py --epochs 3",
    ):
        assert check_command_line({}, command) == [], command


def test_args_render_as_the_command_line_they_become():
    from azure_trainer.secrets_guard import check_command_line

    findings = check_command_line({"db-password": PW, "layers": [1, 2], "amp": True, "token": None}, None)
    assert [f.code for f in findings] == ["secret-in-args"] and "`--db-password`" in findings[0].message


def test_allow_accepts_any_name_of_the_option(tmp_path):
    from azure_trainer.secrets_guard import check_command_line

    assert check_command_line({}, f"python t.py --password {PW}", allow=["password"]) == []
    assert check_command_line({}, f"DB_PASSWORD={PW} python t.py", allow=["DB_PASSWORD"]) == []
    url = "https://user:" + PW + "@example.com/x"
    assert check_command_line({}, f"python t.py --endpoint {url}", allow=["endpoint"]) == []
    assert [f.code for f in check_command_line({}, f"python t.py --endpoint {url}")] == ["secret-in-args"]


def test_known_formats_hide_only_their_secret_part():
    from azure_trainer.secrets_guard import redact_command, redact_path, redact_text

    url = "postgres://admin:" + PW + "@db:5432/app"
    assert redact_command(f"python t.py --db {url}")[0] == "python t.py --db postgres://admin:***@db:5432/app"
    sas_url = FAKE_VALUES["sas_url"]
    assert redact_path(sas_url) == sas_url.split("sig=")[0] + "sig=***"
    conn = FAKE_VALUES["azure_conn"]
    assert redact_text(conn) == "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=***;"
    key = FAKE_VALUES["private_key"]
    assert redact_text(f"key: {key} end") == "key: *** end"


def test_a_name_that_is_itself_a_secret_is_not_shown():
    from azure_trainer.secrets_guard import check_command_line, check_environment_variables

    token = FAKE_VALUES["github"]
    (finding,) = check_command_line({}, f"python t.py --{token}=1")
    assert token not in finding.message
    (finding,) = check_environment_variables({token: FAKE_VALUES["jwt"]})
    assert token not in finding.message and "(name not shown)" in finding.message


# ---------------------------------------------------------------------------------------------
# redact_command's two outputs, and redact_text: the one redaction
# ---------------------------------------------------------------------------------------------


def test_redact_command_can_write_secrets_as_variable_references():
    from azure_trainer.secrets_guard import redact_command

    command = f'python t.py --password \'{PW}\' --data "x" "--key={FAKE_VALUES["openai"]}" --lr 1'
    text, labels = redact_command(command, variables="AZT_SECRET_")
    assert PW not in text and FAKE_VALUES["openai"] not in text
    assert text == (
        'python t.py --password \'\'"${AZT_SECRET_1}"\'\' --data "x" "--key=${AZT_SECRET_2}" --lr 1'
    )
    assert labels == ["argument `--password`", "argument `--key`"]


@pytest.mark.slow  # starts bash
def test_variable_references_run_as_the_original_command():
    import subprocess

    from azure_trainer.secrets_guard import redact_command

    for command in (
        f"printf '%s|' --password '{PW} x' next",
        f'printf "%s|" "--password={PW}" next',
        f"printf '%s|' --password=\"{PW[:3]}\"'{PW[3:]}' next",
        f"printf '%s|' DB_PASSWORD={PW} next",
    ):
        text, labels = redact_command(command, variables="AZT_SECRET_")
        original = subprocess.run(["bash", "-c", command], capture_output=True, text=True).stdout
        env = {"PATH": "/usr/bin:/bin", "AZT_SECRET_1": PW + " x" if " x'" in command else PW}
        replayed = subprocess.run(["bash", "-c", text], capture_output=True, text=True, env=env).stdout
        assert PW not in text and len(labels) == 1
        assert replayed == original, (command, text)


def test_redact_text_finds_secrets_in_free_text_and_leaves_the_rest_alone():
    from azure_trainer.secrets_guard import redact_text

    assert redact_text(f"in /code: bash -c 'python t.py --password {PW}'") == (
        "in /code: bash -c 'python t.py --password ***'"
    )
    assert redact_text(f"HF_TOKEN={PW} and api_key: {FAKE_VALUES['hf']}") == "HF_TOKEN=*** and api_key: ***"
    assert redact_text(f"see https://acct.blob.core.windows.net/c?{FAKE_VALUES['sas_token']}&token={PW}") == (
        "see https://acct.blob.core.windows.net/c?"
        + FAKE_VALUES["sas_token"].split("sig=")[0]
        + "sig=***&token=***"
    )
    plain = "epoch 3: loss=0.25 lr=0.001 --batch-size 64 max_tokens=512 /mnt/data/train.csv"
    assert redact_text(plain) == plain


def test_redact_text_hides_a_jobs_secret_values_wherever_they_appear(tmp_path):
    from guard_jobs import spec as job_spec

    from azure_trainer.secrets_guard import job_secret_values, redact_text

    spec = job_spec(tmp_path, f"python main.py -p {PW} --data x", env={"HF_TOKEN": "tok" + "en-1234567"})
    assert job_secret_values(spec) == {PW, "token-1234567"}
    line = f"Namespace(password='{PW}', data='x') and the token is token-1234567."
    assert redact_text(line, spec) == "Namespace(password='***', data='x') and the token is ***."
    assert redact_text(line) != line  # password='...' alone is caught without the job too


def test_every_finding_message_is_left_unchanged_by_redaction(tmp_path):
    """Messages hold no value, so the one redaction finds nothing to hide in them (it is safe to run over
    every output, findings included)."""
    from guard_jobs import spec as job_spec

    from azure_trainer.secrets_guard import check_job_secrets, redact_text

    spec = job_spec(
        tmp_path,
        f"DB_PASSWORD={PW} python main.py --password {PW} -p {PW} --url {FAKE_VALUES['db_url']} "
        f"--notes {FAKE_VALUES['jwt']} --weird-{FAKE_VALUES['github']}=1",
        env={"HF_TOKEN": "abc", "RANDOM": RAND + RAND},
        inputs={
            "sas": {"type": "uri_folder", "path": FAKE_VALUES["sas_url"]},
            "pw": PW,  # a literal input
        },
    )
    findings = check_job_secrets(spec)
    assert len(findings) >= 7
    for f in findings:
        assert redact_text(f.message, spec) == f.message, f.message
        assert PW not in f.message and RAND[:8] not in f.message and "\n" not in f.message


def test_redact_data_hides_secrets_by_name_and_value(tmp_path):
    from guard_jobs import spec as job_spec

    from azure_trainer.secrets_guard import redact_data

    spec = job_spec(tmp_path, f"python main.py --password {PW}")
    data = {
        "args": {"password": 1234, "lr": 0.1, "token": True},
        "environment_variables": {"HF_TOKEN": "abc", "SEED": "1"},
        "command": f"python main.py --password {PW}",
        "notes": [f"pw is {PW}", 7],
    }
    assert redact_data(data, spec) == {
        "args": {"password": "***", "lr": 0.1, "token": True},
        "environment_variables": {"HF_TOKEN": "***", "SEED": "1"},
        "command": "python main.py --password ***",
        "notes": ["pw is ***", 7],
    }
