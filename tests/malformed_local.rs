//! Hostile and malformed local input to the binary: ledgers that are not ledgers (random bytes,
//! an empty or text file, another program's SQLite database, a directory, a newer segbridge's),
//! missing ledgers, broken mapping tables, secrets files and token files, report paths into
//! missing folders, and invalid flag values. Each case asserts the `error:` / `Caused by:` /
//! `hint:` lines the user reads, the exit code (2: nothing was done), and that the ledger is
//! byte for byte what it was (or still absent) when the input is refused before any work.

use std::path::{Path, PathBuf};
use std::process::Command;

const CONFIG_TOKEN: &str = "localtestlocaltestlocaltestlocaltest.localtestlocaltestlocaltest0";
const PUBLIC_TOKEN: &str = "sgp_localtestlocaltestlocaltestlocaltestlocaltestlocaltestloca";

struct Ran {
    code: Option<i32>,
    stderr: String,
}

/// Runs the binary in `dir` with both tokens set (unless a case overrides them), against a
/// closed port: a case that reaches the network has already failed to refuse its input.
fn segbridge(dir: &Path, args: &[&str]) -> Ran {
    let output = Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .current_dir(dir)
        .args(args)
        .env("SEGMENT_CONFIG_API_TOKEN", CONFIG_TOKEN)
        .env("SEGMENT_PUBLIC_API_TOKEN", PUBLIC_TOKEN)
        .env("SEGBRIDGE_RETRY_BASE_MS", "0")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stderr.contains(CONFIG_TOKEN) && !stderr.contains(PUBLIC_TOKEN),
        "a token in {stderr}"
    );
    Ran {
        code: output.status.code(),
        stderr,
    }
}

const NOWHERE: &str = "http://127.0.0.1:9";

fn export(dir: &Path, ledger: &str) -> Ran {
    segbridge(
        dir,
        &["export", "--config-url", NOWHERE, "--ledger", ledger],
    )
}

fn status(dir: &Path, ledger: &str) -> Ran {
    segbridge(dir, &["status", "--ledger", ledger])
}

fn plan(dir: &Path, ledger: &str, extra: &[&str]) -> Ran {
    let mut args = vec!["plan", "--public-url", NOWHERE, "--ledger", ledger];
    args.extend(extra);
    segbridge(dir, &args)
}

/// Asserts exit 2 and exactly these stderr lines.
#[track_caller]
fn refused(ran: &Ran, lines: &[&str]) {
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    let got: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(got, lines, "{}", ran.stderr);
}

/// A temporary folder holding `name` with `contents`; returns the folder and the bytes.
fn with_file(name: &str, contents: &[u8]) -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), contents).unwrap();
    (dir, contents.to_vec())
}

#[track_caller]
fn unchanged(dir: &Path, name: &str, before: &[u8]) {
    let after = std::fs::read(dir.join(name)).unwrap();
    // Not `assert_eq!` on the bytes: a failure would print megabytes of numbers.
    let first_difference = before.iter().zip(&after).position(|(a, b)| a != b);
    assert!(
        after.len() == before.len() && first_difference.is_none(),
        "`{name}` was modified: {} bytes before, {} after, first difference at {first_difference:?}",
        before.len(),
        after.len()
    );
}

#[track_caller]
fn absent(dir: &Path, name: &str) {
    assert!(!dir.join(name).exists(), "`{name}` was created");
}

/// Bytes that are not SQLite (a fixed pattern: the test needs no randomness to be hostile).
fn noise() -> Vec<u8> {
    (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Another program's SQLite database.
fn foreign_database(dir: &Path) -> Vec<u8> {
    let path = dir.join("notes.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me');")
        .unwrap();
    drop(conn);
    std::fs::read(&path).unwrap()
}

fn newer_ledger(dir: &Path) -> Vec<u8> {
    let path = dir.join("newer.ledger");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    conn.execute_batch("CREATE TABLE from_the_future (x);")
        .unwrap();
    drop(conn);
    std::fs::read(&path).unwrap()
}

// ---- ledgers ------------------------------------------------------------------------------------

#[test]
fn export_into_random_bytes_is_refused_and_the_file_kept() {
    let (dir, before) = with_file("noise.ledger", &noise());
    refused(
        &export(dir.path(), "noise.ledger"),
        &[
            "error: Cannot open the ledger `noise.ledger`",
            "  Caused by: `noise.ledger` is not a segbridge ledger (not an SQLite database)",
        ],
    );
    unchanged(dir.path(), "noise.ledger", &before);
    absent(dir.path(), "noise.ledger.lock");
}

#[test]
fn plan_on_a_text_file_is_refused_and_the_file_kept() {
    let text = b"# my notes\nthis file happens to be named like a ledger\n".repeat(20);
    let (dir, before) = with_file("notes.ledger", &text);
    refused(
        &plan(dir.path(), "notes.ledger", &[]),
        &[
            "error: Cannot open the ledger `notes.ledger`",
            "  Caused by: `notes.ledger` is not a segbridge ledger (not an SQLite database)",
        ],
    );
    unchanged(dir.path(), "notes.ledger", &before);
    absent(dir.path(), "notes.ledger.lock");
}

#[test]
fn status_of_an_empty_file_says_it_is_empty() {
    let (dir, before) = with_file("empty.ledger", b"");
    refused(
        &status(dir.path(), "empty.ledger"),
        &[
            "error: Cannot read the ledger `empty.ledger`",
            "  Caused by: `empty.ledger` is empty: no segbridge command has written to it yet",
        ],
    );
    unchanged(dir.path(), "empty.ledger", &before);
}

#[test]
fn export_into_another_programs_database_is_refused_and_the_database_kept() {
    let dir = tempfile::tempdir().unwrap();
    let before = foreign_database(dir.path());
    refused(
        &export(dir.path(), "notes.db"),
        &[
            "error: Cannot open the ledger `notes.db`",
            "  Caused by: `notes.db` is an SQLite database, but not a segbridge ledger; segbridge \
             leaves it untouched",
        ],
    );
    unchanged(dir.path(), "notes.db", &before);
    absent(dir.path(), "notes.db-wal");
    absent(dir.path(), "notes.db.lock");
}

#[test]
fn status_of_another_programs_database_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let before = foreign_database(dir.path());
    refused(
        &status(dir.path(), "notes.db"),
        &[
            "error: Cannot read the ledger `notes.db`",
            "  Caused by: `notes.db` is an SQLite database, but not a segbridge ledger; segbridge \
             leaves it untouched",
        ],
    );
    unchanged(dir.path(), "notes.db", &before);
}

#[test]
fn export_into_a_directory_says_it_is_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("ledger.d")).unwrap();
    refused(
        &export(dir.path(), "ledger.d"),
        &[
            "error: Cannot open the ledger `ledger.d`",
            "  Caused by: `ledger.d` is a directory, not a ledger file",
        ],
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("ledger.d"))
            .unwrap()
            .count(),
        0
    );
    absent(dir.path(), "ledger.d.lock");
}

#[test]
fn status_of_a_directory_says_it_is_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("ledger.d")).unwrap();
    refused(
        &status(dir.path(), "ledger.d"),
        &[
            "error: Cannot read the ledger `ledger.d`",
            "  Caused by: `ledger.d` is a directory, not a ledger file",
        ],
    );
}

/// The cause a ledger of schema version 99 is refused with.
fn newer_than_this(ledger: &str) -> String {
    format!(
        "  Caused by: the ledger `{ledger}` was written by a newer segbridge (schema version 99, \
         this one knows up to {})",
        segbridge::ledger::current_version()
    )
}

#[test]
fn export_into_a_newer_ledger_is_refused_and_the_ledger_kept() {
    let dir = tempfile::tempdir().unwrap();
    let before = newer_ledger(dir.path());
    refused(
        &export(dir.path(), "newer.ledger"),
        &[
            "error: Cannot open the ledger `newer.ledger`",
            &newer_than_this("newer.ledger"),
        ],
    );
    unchanged(dir.path(), "newer.ledger", &before);
    absent(dir.path(), "newer.ledger.lock");
}

#[test]
fn status_of_a_newer_ledger_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let before = newer_ledger(dir.path());
    refused(
        &status(dir.path(), "newer.ledger"),
        &[
            "error: Cannot read the ledger `newer.ledger`",
            &newer_than_this("newer.ledger"),
        ],
    );
    unchanged(dir.path(), "newer.ledger", &before);
}

#[test]
fn plan_without_a_ledger_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    refused(
        &plan(dir.path(), "missing.ledger", &[]),
        &[
            "error: there is no ledger at `missing.ledger`",
            "hint: run `segbridge export` first, or pass the `--ledger` it wrote",
        ],
    );
    absent(dir.path(), "missing.ledger");
    absent(dir.path(), "missing.ledger.lock");
}

#[test]
fn apply_without_a_ledger_creates_none_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    refused(
        &segbridge(
            dir.path(),
            &[
                "apply",
                "--public-url",
                NOWHERE,
                "--ledger",
                "missing.ledger",
            ],
        ),
        &[
            "error: there is no ledger at `missing.ledger`",
            "hint: run `segbridge export` first, or pass the `--ledger` it wrote",
        ],
    );
    absent(dir.path(), "missing.ledger");
}

// ---- mapping tables -----------------------------------------------------------------------------

/// A `--mappings` folder holding the embedded tables, with `file` replaced by `contents`.
fn mappings_with(dir: &Path, file: &str, contents: &str) -> PathBuf {
    let mappings = dir.join("mappings");
    std::fs::create_dir(&mappings).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    for entry in std::fs::read_dir(repo).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), mappings.join(entry.file_name())).unwrap();
    }
    std::fs::write(mappings.join(file), contents).unwrap();
    mappings
}

/// `plan --mappings` over a ledger that exists, so that the tables are what is refused.
fn plan_with_mappings(file: &str, contents: &str) -> (tempfile::TempDir, Ran, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let before = newer_ledger(dir.path());
    mappings_with(dir.path(), file, contents);
    let ran = plan(dir.path(), "newer.ledger", &["--mappings", "mappings"]);
    (dir, ran, before)
}

#[test]
fn mapping_tables_that_are_not_toml_are_refused_with_the_position() {
    let (dir, ran, before) = plan_with_mappings("catalog.toml", "[renames\nsegment = 1\n");
    refused(
        &ran,
        &[
            "error: Cannot load the mapping tables of `mappings`",
            "  Caused by: mappings/catalog.toml:1: `renames`: unclosed table, expected `]`",
        ],
    );
    unchanged(dir.path(), "newer.ledger", &before);
}

#[test]
fn mapping_tables_with_an_unknown_key_are_refused_naming_it() {
    let original = include_str!("../mappings/filters.toml");
    let line = original.lines().count() + 2;
    let (_dir, ran, _) = plan_with_mappings(
        "filters.toml",
        &format!("{original}\nunexpected_setting = true\n"),
    );
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.starts_with(&format!(
            "error: Cannot load the mapping tables of `mappings`\n  Caused by: \
             mappings/filters.toml:{line}: `unexpected_setting`: unknown field \
             `unexpected_setting`, expected one of `max_filters_per_destination`"
        )),
        "{}",
        ran.stderr
    );
}

#[test]
fn mapping_tables_with_a_value_of_the_wrong_type_are_refused() {
    let (_dir, ran, _) = plan_with_mappings("iam.toml", "roles = 7\n");
    refused(
        &ran,
        &[
            "error: Cannot load the mapping tables of `mappings`",
            "  Caused by: mappings/iam.toml:1: `roles`: invalid type: integer `7`, expected a map",
        ],
    );
}

#[test]
fn a_mapping_table_naming_a_value_the_public_api_does_not_have_is_refused() {
    let original = include_str!("../mappings/tracking_plans.toml");
    let line = original
        .lines()
        .position(|l| l.starts_with("events = "))
        .unwrap()
        + 1;
    let (dir, ran, before) = plan_with_mappings(
        "tracking_plans.toml",
        &original.replace("events = \"TRACK\"", "events = \"TRAK\""),
    );
    refused(
        &ran,
        &[
            "error: Cannot load the mapping tables of `mappings`",
            &format!(
                "  Caused by: mappings/tracking_plans.toml:{line}: `events`: `TRAK` is not one \
                 of: COMMON, GROUP, IDENTIFY, PAGE, SCREEN, TRACK"
            ),
        ],
    );
    unchanged(dir.path(), "newer.ledger", &before);
}

#[test]
fn an_unknown_file_in_the_mappings_folder_is_refused() {
    let (_dir, ran, _) = plan_with_mappings("catalogue.toml", "");
    refused(
        &ran,
        &[
            "error: Cannot load the mapping tables of `mappings`",
            "  Caused by: mappings: `catalogue.toml` is not a mapping table; expected one of: \
             catalog.toml, destination_settings.toml, filters.toml, schema_config.toml, \
             tracking_plans.toml, functions.toml, iam.toml",
        ],
    );
}

#[test]
fn a_mappings_folder_that_does_not_exist_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let before = newer_ledger(dir.path());
    refused(
        &plan(
            dir.path(),
            "newer.ledger",
            &["--mappings", "no-such-folder"],
        ),
        &[
            "error: Cannot load the mapping tables of `no-such-folder`",
            "  Caused by: cannot read the mappings folder `no-such-folder`",
            "  Caused by: No such file or directory (os error 2)",
        ],
    );
    unchanged(dir.path(), "newer.ledger", &before);
}

// ---- secrets and token files --------------------------------------------------------------------

fn apply_with_secrets(dir: &Path, secrets: &str) -> Ran {
    segbridge(
        dir,
        &[
            "apply",
            "--public-url",
            NOWHERE,
            "--ledger",
            "newer.ledger",
            "--secrets",
            secrets,
        ],
    )
}

#[test]
fn a_secrets_file_that_is_not_toml_is_refused_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let before = newer_ledger(dir.path());
    std::fs::write(
        dir.path().join("secrets.toml"),
        "[\"workspaces/w/sources/js/destinations/sf\"]\npassword = \"hunter2\" oops\n",
    )
    .unwrap();
    let ran = apply_with_secrets(dir.path(), "secrets.toml");
    refused(
        &ran,
        &["error: the secrets file `secrets.toml` is not valid TOML (near byte 65)"],
    );
    assert!(!ran.stderr.contains("hunter2"));
    unchanged(dir.path(), "newer.ledger", &before);
}

#[test]
fn a_secret_that_is_not_a_string_is_refused_without_its_value() {
    let dir = tempfile::tempdir().unwrap();
    newer_ledger(dir.path());
    std::fs::write(
        dir.path().join("secrets.toml"),
        "[\"workspaces/w/sources/js/destinations/sf\"]\npassword = 8675309\n",
    )
    .unwrap();
    let ran = apply_with_secrets(dir.path(), "secrets.toml");
    refused(
        &ran,
        &["error: in the secrets file `secrets.toml`, `password` of \
             `workspaces/w/sources/js/destinations/sf` must be a string (in quotes)"],
    );
    assert!(!ran.stderr.contains("8675309"));
}

#[test]
fn a_secrets_file_of_bare_settings_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    newer_ledger(dir.path());
    std::fs::write(dir.path().join("secrets.toml"), "password = \"hunter2\"\n").unwrap();
    let ran = apply_with_secrets(dir.path(), "secrets.toml");
    refused(
        &ran,
        &[
            "error: in the secrets file `secrets.toml`, `password` must be a table of settings \
             (`[\"password\"]` then `setting = \"value\"` lines)",
        ],
    );
    assert!(!ran.stderr.contains("hunter2"));
}

#[test]
fn a_missing_secrets_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let before = newer_ledger(dir.path());
    refused(
        &apply_with_secrets(dir.path(), "nope.toml"),
        &[
            "error: cannot read the secrets file `nope.toml`",
            "  Caused by: No such file or directory (os error 2)",
        ],
    );
    unchanged(dir.path(), "newer.ledger", &before);
}

fn export_with_token_file(dir: &Path, contents: Option<&[u8]>) -> Ran {
    if let Some(contents) = contents {
        std::fs::write(dir.join("token"), contents).unwrap();
    }
    let ran = segbridge(
        dir,
        &[
            "export",
            "--config-url",
            NOWHERE,
            "--ledger",
            "l.ledger",
            "--config-token-file",
            "token",
        ],
    );
    absent(dir, "l.ledger");
    ran
}

#[test]
fn an_empty_token_file_is_refused_before_the_ledger_is_made() {
    let dir = tempfile::tempdir().unwrap();
    refused(
        &export_with_token_file(dir.path(), Some(b"")),
        &[
            "error: Cannot read the Config API token",
            "  Caused by: the token from the file `token` is empty",
        ],
    );
}

#[test]
fn a_token_file_of_several_lines_is_refused_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let ran = export_with_token_file(dir.path(), Some(b"first-token-line\nsecond-token-line\n"));
    refused(
        &ran,
        &[
            "error: Cannot read the Config API token",
            "  Caused by: the token from the file `token` contains whitespace or control \
             characters; it should hold the token alone",
        ],
    );
    assert!(!ran.stderr.contains("token-line"), "{}", ran.stderr);
}

#[test]
fn a_missing_token_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    refused(
        &export_with_token_file(dir.path(), None),
        &[
            "error: Cannot read the Config API token",
            "  Caused by: could not read the token file `token`",
            "  Caused by: No such file or directory (os error 2)",
        ],
    );
}

/// A secrets file naming a setting no secret of the plan asks for (a typo) is refused before
/// anything is sent, naming the entry but never its value.
#[tokio::test]
async fn a_secrets_file_entry_that_no_secret_asks_for_is_refused_by_name() {
    let mut settings = segbridge::sim::SimSettings::for_tests(5);
    settings.counts =
        segbridge::sim::generator::Counts::preset(segbridge::sim::generator::Preset::Tiny);
    settings.config_token = Some(CONFIG_TOKEN.to_owned());
    settings.public_token = Some(PUBLIC_TOKEN.to_owned());
    let sims = segbridge::sim::Simulators::start(settings).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (config, public) = (sims.config.base_url(), sims.public.base_url());
    let run = |args: Vec<String>| {
        let dir = dir.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            segbridge(&dir, &args)
        })
    };
    let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let exported = run(args(&[
        "export",
        "--config-url",
        &config,
        "--ledger",
        "l.ledger",
    ]))
    .await
    .unwrap();
    assert_eq!(exported.code, Some(0), "{}", exported.stderr);
    let planned = run(args(&[
        "plan",
        "--public-url",
        &public,
        "--ledger",
        "l.ledger",
    ]))
    .await
    .unwrap();
    assert_eq!(planned.code, Some(0), "{}", planned.stderr);
    std::fs::write(
        dir.path().join("secrets.toml"),
        "[\"workspaces/nope/sources/x/destinations/y\"]\napiKey = \"hunter2-typo\"\n",
    )
    .unwrap();
    let before = std::fs::read(dir.path().join("l.ledger")).unwrap();
    let ran = run(args(&[
        "apply",
        "--public-url",
        &public,
        "--ledger",
        "l.ledger",
        "--config-url",
        &config,
        "--secrets",
        "secrets.toml",
    ]))
    .await
    .unwrap();
    refused(
        &ran,
        &[
            "error: the secrets file `secrets.toml` has values that no secret setting of the plan \
             asks for: `apiKey` of `workspaces/nope/sources/x/destinations/y`",
        ],
    );
    assert!(!ran.stderr.contains("hunter2"));
    unchanged(dir.path(), "l.ledger", &before);
    let writes = reqwest_free_stats(&public).await;
    assert_eq!(writes, 0, "nothing was written to the target");
    sims.shutdown().await;
}

/// How many writes the Public simulator received, read from `/_sim/stats` over a plain socket.
async fn reqwest_free_stats(base: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    socket
        .write_all(b"GET /_sim/stats HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let stats: serde_json::Value = serde_json::from_str(body).unwrap();
    stats["writes"].as_object().map_or(0, |w| {
        w.values().filter_map(serde_json::Value::as_u64).sum()
    })
}

// ---- reports ------------------------------------------------------------------------------------

#[test]
fn a_report_into_a_missing_folder_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let before = newer_ledger(dir.path());
    refused(
        &plan(
            dir.path(),
            "newer.ledger",
            &["--report", "no-such-folder/plan.html"],
        ),
        &[
            "error: the folder `no-such-folder` of `--report no-such-folder/plan.html` does not \
             exist",
            "hint: create it first, or write the report elsewhere",
        ],
    );
    unchanged(dir.path(), "newer.ledger", &before);
    absent(dir.path(), "no-such-folder");
}

// ---- flags --------------------------------------------------------------------------------------

/// A flag refused by the parser: exit 2, the clap message, nothing made.
#[track_caller]
fn usage_error(args: &[&str], message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let ran = segbridge(dir.path(), args);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert_eq!(ran.stderr.lines().next(), Some(message), "{}", ran.stderr);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn export_concurrency_zero_is_a_usage_error() {
    usage_error(
        &["export", "--concurrency", "0"],
        "error: invalid value '0' for '--concurrency <N>': expected a whole number from 1 to 64",
    );
}

#[test]
fn apply_concurrency_past_the_limit_is_a_usage_error() {
    usage_error(
        &["apply", "--concurrency", "65"],
        "error: invalid value '65' for '--concurrency <N>': expected a whole number from 1 to 64",
    );
}

#[test]
fn a_time_scale_that_is_not_a_number_is_a_usage_error() {
    usage_error(
        &["export", "--time-scale", "inf"],
        "error: invalid value 'inf' for '--time-scale <X>': time scale must be a finite number \
         greater than 0, got inf",
    );
}

#[test]
fn a_fault_spec_without_a_value_is_a_usage_error() {
    usage_error(
        &["sim", "--faults", "5xx"],
        "error: invalid value '5xx' for '--faults <SPEC>': fault spec item \"5xx\" is not of the \
         form key=value",
    );
}

#[test]
fn an_unknown_fault_is_a_usage_error() {
    usage_error(
        &["sim", "--faults", "meteor=0.5"],
        "error: invalid value 'meteor=0.5' for '--faults <SPEC>': unknown fault key \"meteor\"; \
         known keys: 5xx, reset, truncate, html, ghost, latency, jitter, spike, storm, outage, seed",
    );
}

#[test]
fn a_count_that_is_not_a_number_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    refused(
        &segbridge(dir.path(), &["sim", "--counts", "sources=lots"]),
        &[
            "error: Invalid `--counts`",
            "  Caused by: count `sources`: `lots` is not a whole number",
        ],
    );
}
