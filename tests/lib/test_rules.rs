//! Stage rules through the library: `dv.toml` is parsed strictly and `inputs_from` decides
//! which input stages a version may come from.

use dv::rules::Rules;

fn stages() -> Vec<String> {
    ["raw", "cleaned", "labeled"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn load(text: &str) -> dv::Result<Rules> {
    let dir = tempfile::tempdir().unwrap();
    crate::write(dir.path(), "dv.toml", text.as_bytes());
    Rules::load(dir.path(), &stages())
}

#[test]
fn no_file_means_no_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rules = Rules::load(dir.path(), &stages()).unwrap();
    assert!(rules.check_inputs("cleaned", &[]).is_empty());
}

#[test]
fn inputs_from_names_the_stages_a_version_may_come_from() {
    let rules = load("[stages.cleaned]\ninputs_from = [\"raw\"]\n").unwrap();
    assert!(rules.check_inputs("cleaned", &["raw".into()]).is_empty());
    let wrong = rules.check_inputs("cleaned", &["labeled".into()]);
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert_eq!(wrong[0].rule, "inputs_from");
    let none = rules.check_inputs("cleaned", &[]);
    assert_eq!(none.len(), 1, "{none:?}");
    // Stages without rules accept anything.
    assert!(rules.check_inputs("labeled", &[]).is_empty());
}

#[test]
fn mistakes_in_dv_toml_are_refused_with_what_was_wrong() {
    for (text, says) in [
        ("[stages.nope]\ninputs_from = [\"raw\"]\n", "nope"),
        ("[stages.cleaned]\ninputs_from = [\"nope\"]\n", "nope"),
        ("[stages.cleaned]\nunknown_rule = 1\n", "unknown_rule"),
        ("not toml at all [", "dv.toml"),
    ] {
        let err = load(text).unwrap_err();
        assert!(matches!(err, dv::Error::BadRules { .. }), "{text:?}: {err}");
        assert!(err.to_string().contains(says), "{text:?}: {err}");
    }
}
