//! Lock files: any bytes are refused with an error or accepted with every pin path inside the
//! workspace.
#![no_main]
use libfuzzer_sys::fuzz_target;

thread_local! {
    // A workspace is not shared between threads; libFuzzer runs targets on one.
    static WS: &'static (tempfile::TempDir, dv::Workspace) = Box::leak(Box::new(make()));
}

fn workspace() -> &'static (tempfile::TempDir, dv::Workspace) {
    WS.with(|ws| *ws)
}

fn make() -> (tempfile::TempDir, dv::Workspace) {
    let temp = tempfile::tempdir().unwrap();
    let ws = dv::Workspace::init(temp.path(), None).unwrap();
    (temp, ws)
}

fuzz_target!(|data: &[u8]| {
    let (temp, ws) = workspace();
    let lock = temp.path().join("dv.lock");
    std::fs::write(&lock, data).unwrap();
    if let Ok(file) = dv::pin::read_lock(ws, &lock, false) {
        for pin in &file.pins {
            let target = dv::pin::target_dir(ws, &lock, pin).expect("validated pins resolve");
            assert!(target.starts_with(ws.root()) && !target.starts_with(ws.dv_dir()));
        }
    }
});
