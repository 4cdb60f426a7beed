# SPDX-License-Identifier: MIT OR Apache-2.0
"""The cross-face scenario through Python's pr_sdk; prints the dump that tests/cross-face.sh
compares with the Rust (async and blocking) and C faces' (see tests/src/cross_face.rs for
the scenario and the dump's format). Not a pytest module: run it as a script."""

import pr_sdk

KEY1, KEY2, WE_RO = 0x1111, 0x2222, pr_sdk.ReservationType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY


def outcome_word(r: pr_sdk.LunResult) -> str:
    if r.outcome == "failed":
        return f"failed:{type(r.error).__name__}"
    return r.outcome


def main() -> None:
    cluster = pr_sdk.Sim.cluster(2, 2, 3)
    node1, node2 = cluster.devices(0), cluster.devices(1)
    out = []
    assert all(r.ok for r in pr_sdk.unfence(node1, KEY1))
    assert all(r.ok for r in pr_sdk.unfence(node2, KEY2))
    for d in node1:
        d.reserve(KEY1, WE_RO)
    for lun in cluster.luns:
        cluster.paths(0, lun)[0].set_down(True)
    for round_ in ("fence1", "fence2"):
        for i, r in enumerate(pr_sdk.fence(node2, KEY2, KEY1, WE_RO, abort=False)):
            out.append(f"{round_} lun{i} {outcome_word(r)}")
    for i, d in enumerate(node2):
        fs = d.read_full_status()
        out.append(f"rfs lun{i} generation={fs.generation}")
        for e in fs.entries:
            out.append(
                f"rfs lun{i} key=0x{e.key:x} all_tg_pt={int(e.all_tg_pt)} holder={int(e.holder)} "
                f"type={e.type_code} rtpi={e.relative_target_port} tid={e.transport_id_bytes.hex()}"
            )
    print("\n".join(out))


if __name__ == "__main__":
    main()
