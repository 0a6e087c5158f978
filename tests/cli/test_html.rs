//! The browsable lineage page, loaded in a real headless Chromium: the test reads the DOM after
//! the page's scripts ran.

use std::path::Path;

use crate::common::TestEnv;

/// The browser (`tests/run.sh` installs Debian's chromium as root).
fn chromium() -> Option<String> {
    crate::common::optional_tool(
        "DV_TEST_CHROMIUM",
        "DV_TEST_REQUIRE_BROWSER",
        "the browser test",
    )
}

/// Loads `page` (with `#fragment`) headless and returns the DOM after the scripts ran, without
/// the scripts themselves.
fn dom(browser: &str, page: &Path, fragment: &str, profile: &Path) -> String {
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}{fragment}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut html = String::from_utf8(out.stdout).unwrap();
    while let Some(start) = html.find("<script") {
        let end = html[start..]
            .find("</script>")
            .map(|e| start + e + 9)
            .unwrap();
        html.replace_range(start..end, "");
    }
    html
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn the_lineage_page_draws_every_version_and_edge_and_shows_provenance_on_click() {
    let env = TestEnv::new();
    env.penguins();
    let raw = env.id(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    env.write("code/clean.py", "print('clean')\n");
    env.write("data/penguins.csv", "species,island\nAdelie,Dream\n");
    // Recorded text is data, never markup: this transform must stay text.
    let hostile = "clean </script><img src=x onerror=alert(1)> & more";
    let cleaned = env.id(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "cleaned",
        "--from",
        &raw,
        "--transform",
        hostile,
        "--code",
        "code/clean.py",
        "--param",
        "threshold=0.5",
        "-q",
    ]);
    env.ok(&["tag", &cleaned, "release-1"]);
    env.write("labels/l.txt", "cat\n");
    let labels = env.id(&["commit", "labels", "-d", "labels", "-s", "raw", "-q"]);
    env.write("joined/j.txt", "x\n");
    let joined = env.id(&[
        "commit", "joined", "-d", "joined", "-s", "labeled", "--from", &cleaned, "--from", &labels,
        "-q",
    ]);
    env.ok(&["retire", &raw, "--reason", "superseded"]);

    let page = env.ok(&["lineage", &joined, "--format", "html"]);
    // Self-contained: nothing is fetched from anywhere.
    for reference in ["src=\"http", "href=\"http", "@import", "<link"] {
        assert!(!page.contains(reference), "{reference}");
    }
    assert!(
        !page.contains(hostile),
        "the hostile text is escaped inside the data"
    );
    let file = env.base().join("lineage.html");
    std::fs::write(&file, &page).unwrap();

    let Some(browser) = chromium() else { return };
    let profile = env.base().join("chromium");
    let drawn = dom(&browser, &file, &format!("#click={cleaned}"), &profile);
    for id in [&raw, &cleaned, &labels, &joined] {
        assert_eq!(
            count(&drawn, &format!("data-version=\"{id}\"")),
            1,
            "{id} drawn once"
        );
    }
    assert_eq!(count(&drawn, "data-version=\""), 4);
    for (from, to) in [(&raw, &cleaned), (&cleaned, &joined), (&labels, &joined)] {
        assert!(
            drawn.contains(&format!("data-from=\"{from}\" data-to=\"{to}\"")),
            "edge {from} -> {to}"
        );
    }
    assert_eq!(count(&drawn, "data-from=\""), 3);
    // The simulated click filled the panel with the version's provenance.
    let start = drawn
        .find("<dl id=\"provenance\">")
        .expect("the detail panel is filled");
    let panel = &drawn[start..drawn[start..].find("</dl>").unwrap() + start];
    for expected in [
        format!("<dd>{cleaned}</dd>"),
        "<dd>clean &lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; more</dd>".to_string(),
        "<div>threshold = 0.5</div>".to_string(),
        "<div>code/clean.py (".to_string(),
        format!("<div>{} penguins@raw</div>", &raw[..12]),
        "<div>release-1</div>".to_string(),
    ] {
        assert!(panel.contains(&expected), "{expected} in {panel}");
    }
    assert!(!drawn.contains("<img"), "no markup came from recorded text");
    // The clicked version, its inputs and what was made from it are highlighted; the labels
    // dataset, unrelated upstream, is dimmed; the retired version is drawn as retired.
    assert!(drawn.contains("class=\"version selected\""), "{drawn}");
    assert!(
        drawn.contains("class=\"version retired related\""),
        "{drawn}"
    );
    let labels_node = drawn.find(&format!("data-version=\"{labels}\"")).unwrap();
    let labels_open = drawn[..labels_node].rfind("<g ").unwrap();
    assert!(
        drawn[labels_open..labels_node].contains("dim"),
        "{}",
        &drawn[labels_open..labels_node]
    );
}
