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
