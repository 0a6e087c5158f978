//! gc's live set through the library: what a clone, a pull and gc keep.

#[test]
fn the_live_set_leaves_out_retired_versions_unless_a_tag_keeps_them() {
    use dv::lifecycle::{Change, change};
    let (_temp, ws, ids) = crate::test_revision::history();
    let live = |ws: &dv::Workspace| {
        let mut live = dv::gc::live_versions(ws).unwrap();
        live.sort();
        live
    };
    let mut all = ids.clone();
    all.sort();
    assert_eq!(live(&ws), all);
    let retire = || Change::Retire {
        reason: "superseded".into(),
        force: false,
    };
    // ids[2] is untagged: retiring it takes it out; ids[0] is tagged `first`: it stays.
    change(&ws, ids[2], retire(), dv::available::Fetch::Offline).unwrap();
    change(&ws, ids[0], retire(), dv::available::Fetch::Offline).unwrap();
    let mut expected = vec![ids[0], ids[1], ids[3]];
    expected.sort();
    assert_eq!(live(&ws), expected);
}
