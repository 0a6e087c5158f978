//! Checkout applies the diff as a stream of bounded chunks: a version with more changes than
//! one chunk must come out exactly, with removals in one chunk and writes in another.

use dv::checkout::{CheckoutRequest, checkout};
use dv::commit::{CommitRequest, commit};
use dv::progress::NoProgress;

use crate::describe::describe;

#[test]
fn a_checkout_larger_than_a_chunk_is_exact_in_both_directions() {
    let (temp, ws) = crate::workspace();
    let data = temp.path().join("data");
    // 12,000 files in 100 directories: more than one chunk (8,192) of changes.
    for i in 0..12_000u32 {
        crate::write(
            &data,
            &format!("d{:03}/f{i}.txt", i % 100),
            format!("{i}\n").as_bytes(),
        );
    }
    let request = |stage: &str| CommitRequest {
        path: data.clone(),
        dataset: "many".into(),
        stage: stage.into(),
        ..Default::default()
    };
    let one = commit(&ws, &request("raw"), &NoProgress).unwrap().id;
    let expected_one = describe(&data);
    // Version two: a third of the files gone, some rewritten, a directory turned into a file.
    for i in (0..12_000u32).step_by(3) {
        std::fs::remove_file(data.join(format!("d{:03}/f{i}.txt", i % 100))).unwrap();
    }
    for i in (1..12_000u32).step_by(7) {
        crate::write(&data, &format!("d{:03}/f{i}.txt", i % 100), b"rewritten\n");
    }
    std::fs::remove_dir_all(data.join("d099")).unwrap();
    crate::write(&data, "d099", b"now a file\n");
    let two = commit(&ws, &request("cleaned"), &NoProgress).unwrap().id;
    let expected_two = describe(&data);

    let out = temp.path().join("out");
    let to = |id| CheckoutRequest {
        id,
        to: Some(out.clone()),
        force: true,
    };
    let report = checkout(&ws, &to(one), &NoProgress).unwrap();
    assert_eq!(report.written, 12_000);
    assert!(
        describe(&out) == expected_one,
        "version one comes back exactly"
    );
    checkout(&ws, &to(two), &NoProgress).unwrap();
    assert!(
        describe(&out) == expected_two,
        "version two comes back exactly"
    );
    let back = checkout(&ws, &to(one), &NoProgress).unwrap();
    assert!(back.removed >= 1, "{}", back.removed);
    assert!(
        describe(&out) == expected_one,
        "version one comes back exactly"
    );
}
