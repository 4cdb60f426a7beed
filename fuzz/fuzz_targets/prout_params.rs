#![no_main]
use libfuzzer_sys::fuzz_target;
use pr_core::prout::ParamList;
use pr_core::types::PrOutAction;

fuzz_target!(|data: &[u8]| {
    let Some((&sa, rest)) = data.split_first() else { return };
    let Some(action) = PrOutAction::from_code(sa % 9) else { return };
    if let Ok(p) = ParamList::decode(action, rest) {
        match p {
            ParamList::Basic(b) => {
                for t in b.transport_ids() {
                    let _ = t.map(|t| t.to_string());
                }
            }
            ParamList::Move(m) => {
                let _ = m.transport_id();
            }
        }
    }
});
