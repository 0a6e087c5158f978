//! Exact bytes back: a tree with every kind of entry survives commit and checkout.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::TestEnv;
use crate::describe::describe;

#[test]
fn every_kind_of_entry_comes_back_exactly() {
    let env = TestEnv::new();
    let data = env.root().join("data");
    std::fs::create_dir_all(data.join("a/b/c/d")).unwrap();
    std::fs::create_dir_all(data.join("ünïcødé/日本語")).unwrap();
    std::fs::write(data.join("a/b/c/d/deep.txt"), "deep\n").unwrap();
    std::fs::write(data.join("empty"), "").unwrap();
    let binary: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(data.join("a/random.bin"), &binary).unwrap();
    let text = "id,text\n".to_string()
        + &(0..50_000)
            .map(|i| format!("{i},row {i}\n"))
            .collect::<String>();
    std::fs::write(data.join("a/b/rows.csv"), &text).unwrap();
    std::fs::write(data.join("ünïcødé/日本語/ファイル.txt"), "こんにちは").unwrap();
    std::fs::write(data.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(data.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("a/b/rows.csv", data.join("inside-link")).unwrap();
    std::os::unix::fs::symlink("../../../../etc/passwd", data.join("a/outside-link")).unwrap();
    std::os::unix::fs::symlink("/absolute/target", data.join("absolute-link")).unwrap();
    std::os::unix::fs::symlink("missing", data.join("dangling")).unwrap();
    std::os::unix::fs::symlink("b", data.join("a/dir-link")).unwrap();

    let id = env.id(&["commit", "data", "-d", "mixed", "-s", "raw"]);
    env.ok(&["checkout", &id, "--to", "restored"]);
    let original = describe(&data);
    assert_eq!(original.len(), 11);
    assert_eq!(describe(&env.root().join("restored")), original);
    // The link pointing out of the tree was stored as a link, not followed.
    assert_eq!(
        std::fs::read_link(env.root().join("restored/a/outside-link")).unwrap(),
        Path::new("../../../../etc/passwd")
    );
    let show = env.dv(&["show", &id, "--json"]).json();
    assert_eq!(show["files"], 11);
    assert_eq!(
        show["bytes"],
        (5 + binary.len() + text.len() + "こんにちは".len() + 18 + 12 + 22 + 16 + 7 + 1) as u64
    );
}
