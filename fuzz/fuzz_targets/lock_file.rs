//! Lock files: any bytes are refused with an error or accepted with every pin path inside the
//! workspace.
#![no_main]
#[path = "support.rs"]
mod support;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (temp, ws) = support::workspace(|_, _| {});
    let lock = temp.path().join("dv.lock");
    std::fs::write(&lock, data).unwrap();
    if let Ok(file) = dv::pin::read_lock(ws, &lock, false) {
        for pin in &file.pins {
            let target = dv::pin::target_dir(ws, &lock, pin).expect("validated pins resolve");
            assert!(target.starts_with(ws.root()) && !target.starts_with(ws.dv_dir()));
        }
    }
});
