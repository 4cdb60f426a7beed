//! `#[repr(C)]` mirrors of the libmpathpersist ABI (`mpath_persist.h`).
//!
//! Every structure and constant that C callers of libmpathpersist see is declared
//! here with the same names (in Rust case), values, field types and layout. The
//! layout is the C ABI layout of the platform (natural alignment, no packing); on
//! x86_64 sizes, alignments and field offsets are checked at compile time against
//! the documented values, and `tests/c_layout.rs` checks the same numbers on the C
//! side against `include/mpath_persist.h` (and the system header when installed).
//!
//! These are ABI types, not SCSI wire formats: multi-byte integers in them are in
//! whatever byte order libmpathpersist documents for each field (mostly CPU order
//! after the library's in-place swap; keys stay raw big-endian bytes).

use core::ffi::{c_int, c_uint};

// ---------------------------------------------------------------------------
// Buffer limits
// ---------------------------------------------------------------------------

/// Size in bytes of the data buffers embedded in the PR IN and PR OUT structures
/// (`key_list`, `private_buffer`); also the cap on the PR IN allocation length.
pub const MPATH_MAX_PARAM_LEN: usize = 8192;
/// Maximum number of descriptors the READ FULL STATUS result can point to.
pub const MPATH_MX_TIDS: usize = 32;
/// Maximum length in bytes of a transport identifier name (the iSCSI name field).
pub const MPATH_MX_TID_LEN: usize = 256;

// ---------------------------------------------------------------------------
// PERSISTENT RESERVE IN service actions (`rq_servact` of the PR IN calls)
// ---------------------------------------------------------------------------

/// PR IN READ KEYS (service action 00h).
pub const MPATH_PRIN_RKEY_SA: c_int = 0x00;
/// PR IN READ RESERVATION (service action 01h).
pub const MPATH_PRIN_RRES_SA: c_int = 0x01;
/// PR IN REPORT CAPABILITIES (service action 02h).
pub const MPATH_PRIN_RCAP_SA: c_int = 0x02;
/// PR IN READ FULL STATUS (service action 03h).
pub const MPATH_PRIN_RFSTAT_SA: c_int = 0x03;

// ---------------------------------------------------------------------------
// PERSISTENT RESERVE OUT service actions (`rq_servact` of the PR OUT calls)
// ---------------------------------------------------------------------------

/// PR OUT REGISTER (service action 00h).
pub const MPATH_PROUT_REG_SA: c_int = 0x00;
/// PR OUT RESERVE (service action 01h).
pub const MPATH_PROUT_RES_SA: c_int = 0x01;
/// PR OUT RELEASE (service action 02h).
pub const MPATH_PROUT_REL_SA: c_int = 0x02;
/// PR OUT CLEAR (service action 03h).
pub const MPATH_PROUT_CLEAR_SA: c_int = 0x03;
/// PR OUT PREEMPT (service action 04h).
pub const MPATH_PROUT_PREE_SA: c_int = 0x04;
/// PR OUT PREEMPT AND ABORT (service action 05h).
pub const MPATH_PROUT_PREE_AB_SA: c_int = 0x05;
/// PR OUT REGISTER AND IGNORE EXISTING KEY (service action 06h).
pub const MPATH_PROUT_REG_IGN_SA: c_int = 0x06;
/// PR OUT REGISTER AND MOVE (service action 07h). The ABI defines no constant for 08h.
pub const MPATH_PROUT_REG_MOV_SA: c_int = 0x07;

// ---------------------------------------------------------------------------
// Scope and reservation types (`rq_scope`, `rq_type` of the PR OUT calls)
// ---------------------------------------------------------------------------

/// Logical-unit scope, the only scope libmpathpersist uses.
pub const MPATH_LU_SCOPE: c_int = 0x00;

/// Reservation type Write Exclusive (1h).
pub const MPATH_PRTPE_WE: c_uint = 0x01;
/// Reservation type Exclusive Access (3h).
pub const MPATH_PRTPE_EA: c_uint = 0x03;
/// Reservation type Write Exclusive – Registrants Only (5h).
pub const MPATH_PRTPE_WE_RO: c_uint = 0x05;
/// Reservation type Exclusive Access – Registrants Only (6h).
pub const MPATH_PRTPE_EA_RO: c_uint = 0x06;
/// Reservation type Write Exclusive – All Registrants (7h).
pub const MPATH_PRTPE_WE_AR: c_uint = 0x07;
/// Reservation type Exclusive Access – All Registrants (8h).
pub const MPATH_PRTPE_EA_AR: c_uint = 0x08;

// ---------------------------------------------------------------------------
// Return codes of the PR IN / PR OUT calls
// ---------------------------------------------------------------------------

/// The operation was skipped (internal use).
pub const MPATH_PR_SKIP: c_int = -1;
/// The command completed successfully.
pub const MPATH_PR_SUCCESS: c_int = 0;
/// Invalid arguments (bad service action, type, pointer, key mismatch, ...).
pub const MPATH_PR_SYNTAX_ERROR: c_int = 1;
/// The device reported sense key NOT READY.
pub const MPATH_PR_SENSE_NOT_READY: c_int = 2;
/// The device reported sense key MEDIUM ERROR.
pub const MPATH_PR_SENSE_MEDIUM_ERROR: c_int = 3;
/// The device reported sense key HARDWARE ERROR.
pub const MPATH_PR_SENSE_HARDWARE_ERROR: c_int = 4;
/// The device reported sense key ILLEGAL REQUEST (e.g. unsupported service action).
pub const MPATH_PR_ILLEGAL_REQ: c_int = 5;
/// The device reported sense key UNIT ATTENTION.
pub const MPATH_PR_SENSE_UNIT_ATTENTION: c_int = 6;
/// Invalid operation code (declared by the ABI; libmpathpersist never returns it).
pub const MPATH_PR_SENSE_INVALID_OP: c_int = 7;
/// The device reported sense key ABORTED COMMAND.
pub const MPATH_PR_SENSE_ABORTED_COMMAND: c_int = 8;
/// The device reported sense key NO SENSE.
pub const MPATH_PR_NO_SENSE: c_int = 9;
/// The sense data could not be interpreted.
pub const MPATH_PR_SENSE_MALFORMED: c_int = 10;
/// The device returned status RESERVATION CONFLICT.
pub const MPATH_PR_RESERV_CONFLICT: c_int = 11;
/// The file descriptor is unusable (fstat failed or not a block device).
pub const MPATH_PR_FILE_ERROR: c_int = 12;
/// The device is not a device-mapper multipath map, or no usable path was found.
pub const MPATH_PR_DMMP_ERROR: c_int = 13;
/// A worker thread could not be created or joined.
pub const MPATH_PR_THREAD_ERROR: c_int = 14;
/// Any other error.
pub const MPATH_PR_OTHER: c_int = 15;
/// A path failed in a way worth retrying on another path (multipath-tools 0.13 and later).
pub const MPATH_PR_RETRYABLE_ERROR: c_int = 16;
/// Success that unregistered the key (internal; multipath-tools 0.13 and later).
pub const MPATH_PR_SUCCESS_UNREGISTER: c_int = 17;

// ---------------------------------------------------------------------------
// Flag and field masks
// ---------------------------------------------------------------------------

/// `sa_flags` bit: Activate Persist Through Power Loss (APTPL).
pub const MPATH_F_APTPL_MASK: u8 = 0x01;
/// `sa_flags` bit: ALL_TG_PT, register on all target ports.
pub const MPATH_F_ALL_TG_PT_MASK: u8 = 0x04;
/// `sa_flags` bit: SPEC_I_PT, the transport IDs in `trnptid_list` are specified.
pub const MPATH_F_SPEC_I_PT_MASK: u8 = 0x08;
/// Mask of the TYPE nibble of a `scope_type` byte.
pub const MPATH_PR_TYPE_MASK: u8 = 0x0f;
/// Mask of the SCOPE nibble of a `scope_type` byte.
pub const MPATH_PR_SCOPE_MASK: u8 = 0xf0;

/// [`PrinFulldescr::flag`] bit: the registration applies to all target ports.
pub const MPATH_PR_FULLDESCR_ALL_TG_PT: u8 = 0x02;
/// [`PrinFulldescr::flag`] bit: this registrant holds the reservation.
pub const MPATH_PR_FULLDESCR_R_HOLDER: u8 = 0x01;

// ---------------------------------------------------------------------------
// Transport identifiers
// ---------------------------------------------------------------------------

/// [`TransportId::protocol_id`]: Fibre Channel.
pub const MPATH_PROTOCOL_ID_FC: u8 = 0x00;
/// [`TransportId::protocol_id`]: iSCSI.
pub const MPATH_PROTOCOL_ID_ISCSI: u8 = 0x05;
/// [`TransportId::protocol_id`]: SAS.
pub const MPATH_PROTOCOL_ID_SAS: u8 = 0x06;

/// [`TransportId::format_code`] for iSCSI: a device name (already shifted to bits 7:6).
pub const MPATH_WWUI_DEVICE_NAME: u8 = 0x00;
/// [`TransportId::format_code`] for iSCSI: a port identifier (already shifted to bits 7:6).
pub const MPATH_WWUI_PORT_IDENTIFIER: u8 = 0x40;

// ---------------------------------------------------------------------------
// PR IN result structures
// ---------------------------------------------------------------------------

/// READ KEYS result (`struct prin_readdescr`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PrinReaddescr {
    /// PRGENERATION, in CPU byte order.
    pub prgeneration: u32,
    /// ADDITIONAL LENGTH (bytes of keys that follow), in CPU byte order.
    pub additional_length: u32,
    /// The registered keys, 8 raw big-endian bytes each.
    pub key_list: [u8; MPATH_MAX_PARAM_LEN],
}

/// READ RESERVATION result (`struct prin_resvdescr`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PrinResvdescr {
    /// PRGENERATION, in CPU byte order.
    pub prgeneration: u32,
    /// ADDITIONAL LENGTH (0 when there is no reservation), in CPU byte order.
    pub additional_length: u32,
    /// The reservation key of the holder, raw big-endian bytes.
    pub key: [u8; 8],
    /// Obsolete SCSI field.
    pub _obsolete: u32,
    /// Reserved SCSI field.
    pub _reserved: u8,
    /// SCOPE (high nibble) and TYPE (low nibble) of the reservation.
    pub scope_type: u8,
    /// Obsolete SCSI field.
    pub _obsolete1: u16,
}

/// REPORT CAPABILITIES result (`struct prin_capdescr`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PrinCapdescr {
    /// LENGTH, in CPU byte order.
    pub length: u16,
    /// The two capability flag bytes, raw.
    pub flags: [u8; 2],
    /// PERSISTENT RESERVATION TYPE MASK, in CPU byte order.
    pub pr_type_mask: u16,
    /// Reserved SCSI field.
    pub _reserved: u16,
}

/// The name part of a [`TransportId`]: the anonymous union of `struct transportid`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union TransportIdName {
    /// Fibre Channel N_Port name.
    pub n_port_name: [u8; 8],
    /// SAS address.
    pub sas_address: [u8; 8],
    /// iSCSI name; for PR OUT the caller stores its big-endian 16-bit length in
    /// the first two bytes.
    pub iscsi_name: [u8; MPATH_MX_TID_LEN],
}

/// A SCSI transport identifier (`struct transportid`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TransportId {
    /// FORMAT CODE, pre-shifted to bits 7:6 (see [`MPATH_WWUI_PORT_IDENTIFIER`]).
    pub format_code: u8,
    /// PROTOCOL IDENTIFIER (see [`MPATH_PROTOCOL_ID_ISCSI`] and friends).
    pub protocol_id: u8,
    /// The protocol-specific name (anonymous union in C).
    pub name: TransportIdName,
}

impl TransportId {
    /// The 256 bytes of the name union (`iscsi_name`, which spans it).
    pub fn name_bytes(&self) -> [u8; MPATH_MX_TID_LEN] {
        // SAFETY: every member of the union is a byte array, so any bit pattern is a valid
        // `iscsi_name`, the member that covers the whole union.
        unsafe { self.name.iscsi_name }
    }
}

/// One READ FULL STATUS descriptor (`struct prin_fulldescr`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PrinFulldescr {
    /// The registrant's reservation key, raw big-endian bytes.
    pub key: [u8; 8],
    /// [`MPATH_PR_FULLDESCR_ALL_TG_PT`] and [`MPATH_PR_FULLDESCR_R_HOLDER`] bits.
    pub flag: u8,
    /// SCOPE (high nibble) and TYPE (low nibble), meaningful for the holder.
    pub scope_type: u8,
    /// RELATIVE TARGET PORT IDENTIFIER.
    pub rtpi: u16,
    /// The registrant's transport identifier.
    pub trnptid: TransportId,
}

/// READ FULL STATUS result (`struct print_fulldescr_list`, spelled with a `t` in C).
///
/// The descriptors are packed into `private_buffer` and `descriptors` is a C
/// flexible array of pointers into it (the caller's allocation provides room for
/// [`MPATH_MX_TIDS`] of them after the structure).
#[repr(C)]
pub struct PrintFulldescrList {
    /// PRGENERATION, in CPU byte order.
    pub prgeneration: u32,
    /// The number of descriptors in `descriptors` (not the wire ADDITIONAL LENGTH).
    pub number_of_descriptor: u32,
    /// Storage for the packed [`PrinFulldescr`] records.
    pub private_buffer: [u8; MPATH_MAX_PARAM_LEN],
    /// Flexible array of pointers to the descriptors.
    pub descriptors: [*mut PrinFulldescr; 0],
}

/// The union of the four PR IN results (the untagged union that is the
/// `prin_descriptor` member of `struct prin_resp`).
#[repr(C)]
pub union PrinDescriptor {
    /// READ KEYS result.
    pub prin_readkeys: PrinReaddescr,
    /// READ RESERVATION result.
    pub prin_readresv: PrinResvdescr,
    /// REPORT CAPABILITIES result.
    pub prin_readcap: PrinCapdescr,
    /// READ FULL STATUS result.
    pub prin_readfd: core::mem::ManuallyDrop<PrintFulldescrList>,
}

/// The PR IN response buffer passed to the PR IN calls (`struct prin_resp`).
#[repr(C)]
pub struct PrinResp {
    /// The service-action specific result.
    pub prin_descriptor: PrinDescriptor,
}

// ---------------------------------------------------------------------------
// PR OUT parameter structure
// ---------------------------------------------------------------------------

/// The PR OUT parameters (`struct prout_param_descriptor`).
///
/// `trnptid_list` is a C flexible array of `num_transportid` pointers to
/// [`TransportId`]s, used with [`MPATH_F_SPEC_I_PT_MASK`].
#[repr(C)]
pub struct ProutParamDescriptor {
    /// RESERVATION KEY, raw big-endian bytes.
    pub key: [u8; 8],
    /// SERVICE ACTION RESERVATION KEY, raw big-endian bytes.
    pub sa_key: [u8; 8],
    /// Obsolete SCSI field.
    pub _obsolete: u32,
    /// [`MPATH_F_APTPL_MASK`], [`MPATH_F_ALL_TG_PT_MASK`], [`MPATH_F_SPEC_I_PT_MASK`].
    pub sa_flags: u8,
    /// Reserved SCSI field.
    pub _reserved: u8,
    /// Obsolete SCSI field.
    pub _obsolete1: u16,
    /// Scratch space the library uses to build the parameter list.
    pub private_buffer: [u8; MPATH_MAX_PARAM_LEN],
    /// Number of entries in `trnptid_list`.
    pub num_transportid: u32,
    /// Flexible array of pointers to transport identifiers.
    pub trnptid_list: [*mut TransportId; 0],
}

// ---------------------------------------------------------------------------
// The flexible arrays (the only unsafe access to the caller's memory beyond a struct)
// ---------------------------------------------------------------------------

/// Reads entry `i` of `trnptid_list`, the flexible array after a
/// [`ProutParamDescriptor`].
///
/// # Safety
///
/// `paramp` must point to a readable `struct prout_param_descriptor` whose allocation
/// holds at least `i + 1` entries of `trnptid_list` (the caller of
/// `mpath_persistent_reserve_out` promises `num_transportid` of them).
pub unsafe fn transport_id_ptr(
    paramp: *const ProutParamDescriptor,
    i: usize,
) -> *const TransportId {
    // SAFETY: the caller guarantees the pointer array has more than `i` entries, all in
    // the same allocation as `*paramp`; `addr_of!` creates no reference to the
    // zero-length array, and the pointer entries are plain (possibly unaligned) data.
    unsafe {
        let base = core::ptr::addr_of!((*paramp).trnptid_list).cast::<*mut TransportId>();
        base.add(i).read_unaligned().cast_const()
    }
}

/// Stores `descriptor` as entry `i` of `descriptors`, the flexible array after a
/// [`PrintFulldescrList`].
///
/// # Safety
///
/// `list` must point to a writable `struct print_fulldescr_list` whose allocation holds
/// at least `i + 1` descriptor pointers after it (`mpath_alloc_prin_response` allocates
/// [`MPATH_MX_TIDS`]), and `i < MPATH_MX_TIDS`.
pub unsafe fn set_descriptor_ptr(
    list: *mut PrintFulldescrList,
    i: usize,
    descriptor: *mut PrinFulldescr,
) {
    // SAFETY: per the caller's promise the pointer slot `i` lies inside the allocation;
    // no reference to the zero-length array is created.
    unsafe {
        let base = core::ptr::addr_of_mut!((*list).descriptors).cast::<*mut PrinFulldescr>();
        base.add(i).write_unaligned(descriptor);
    }
}

// ---------------------------------------------------------------------------
// Compile-time layout checks (x86_64, per the documented ABI)
// ---------------------------------------------------------------------------

#[cfg(target_arch = "x86_64")]
mod layout_x86_64 {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    const _: () = assert!(size_of::<PrinReaddescr>() == 8200 && align_of::<PrinReaddescr>() == 4);
    const _: () = assert!(offset_of!(PrinReaddescr, prgeneration) == 0);
    const _: () = assert!(offset_of!(PrinReaddescr, additional_length) == 4);
    const _: () = assert!(offset_of!(PrinReaddescr, key_list) == 8);

    const _: () = assert!(size_of::<PrinResvdescr>() == 24 && align_of::<PrinResvdescr>() == 4);
    const _: () = assert!(offset_of!(PrinResvdescr, prgeneration) == 0);
    const _: () = assert!(offset_of!(PrinResvdescr, additional_length) == 4);
    const _: () = assert!(offset_of!(PrinResvdescr, key) == 8);
    const _: () = assert!(offset_of!(PrinResvdescr, _obsolete) == 16);
    const _: () = assert!(offset_of!(PrinResvdescr, _reserved) == 20);
    const _: () = assert!(offset_of!(PrinResvdescr, scope_type) == 21);
    const _: () = assert!(offset_of!(PrinResvdescr, _obsolete1) == 22);

    const _: () = assert!(size_of::<PrinCapdescr>() == 8 && align_of::<PrinCapdescr>() == 2);
    const _: () = assert!(offset_of!(PrinCapdescr, length) == 0);
    const _: () = assert!(offset_of!(PrinCapdescr, flags) == 2);
    const _: () = assert!(offset_of!(PrinCapdescr, pr_type_mask) == 4);
    const _: () = assert!(offset_of!(PrinCapdescr, _reserved) == 6);

    const _: () =
        assert!(size_of::<TransportIdName>() == 256 && align_of::<TransportIdName>() == 1);
    const _: () = assert!(size_of::<TransportId>() == 258 && align_of::<TransportId>() == 1);
    const _: () = assert!(offset_of!(TransportId, format_code) == 0);
    const _: () = assert!(offset_of!(TransportId, protocol_id) == 1);
    const _: () = assert!(offset_of!(TransportId, name) == 2);

    const _: () = assert!(size_of::<PrinFulldescr>() == 270 && align_of::<PrinFulldescr>() == 2);
    const _: () = assert!(offset_of!(PrinFulldescr, key) == 0);
    const _: () = assert!(offset_of!(PrinFulldescr, flag) == 8);
    const _: () = assert!(offset_of!(PrinFulldescr, scope_type) == 9);
    const _: () = assert!(offset_of!(PrinFulldescr, rtpi) == 10);
    const _: () = assert!(offset_of!(PrinFulldescr, trnptid) == 12);

    const _: () =
        assert!(size_of::<PrintFulldescrList>() == 8200 && align_of::<PrintFulldescrList>() == 8);
    const _: () = assert!(offset_of!(PrintFulldescrList, prgeneration) == 0);
    const _: () = assert!(offset_of!(PrintFulldescrList, number_of_descriptor) == 4);
    const _: () = assert!(offset_of!(PrintFulldescrList, private_buffer) == 8);
    const _: () = assert!(offset_of!(PrintFulldescrList, descriptors) == 8200);

    const _: () = assert!(size_of::<PrinDescriptor>() == 8200 && align_of::<PrinDescriptor>() == 8);
    const _: () = assert!(size_of::<PrinResp>() == 8200 && align_of::<PrinResp>() == 8);
    const _: () = assert!(offset_of!(PrinResp, prin_descriptor) == 0);

    const _: () = assert!(
        size_of::<ProutParamDescriptor>() == 8224 && align_of::<ProutParamDescriptor>() == 8
    );
    const _: () = assert!(offset_of!(ProutParamDescriptor, key) == 0);
    const _: () = assert!(offset_of!(ProutParamDescriptor, sa_key) == 8);
    const _: () = assert!(offset_of!(ProutParamDescriptor, _obsolete) == 16);
    const _: () = assert!(offset_of!(ProutParamDescriptor, sa_flags) == 20);
    const _: () = assert!(offset_of!(ProutParamDescriptor, _reserved) == 21);
    const _: () = assert!(offset_of!(ProutParamDescriptor, _obsolete1) == 22);
    const _: () = assert!(offset_of!(ProutParamDescriptor, private_buffer) == 24);
    const _: () = assert!(offset_of!(ProutParamDescriptor, num_transportid) == 8216);
    const _: () = assert!(offset_of!(ProutParamDescriptor, trnptid_list) == 8224);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_members_start_at_zero() {
        // Union fields always share offset 0; spot-check through a zeroed value.
        let resp = core::mem::MaybeUninit::<PrinResp>::zeroed();
        let base = resp.as_ptr() as usize;
        // SAFETY: only field addresses are computed, nothing is read.
        let (keys, fd) = unsafe {
            let d = core::ptr::addr_of!((*resp.as_ptr()).prin_descriptor);
            (
                core::ptr::addr_of!((*d).prin_readkeys) as usize,
                core::ptr::addr_of!((*d).prin_readfd) as usize,
            )
        };
        assert_eq!(keys, base);
        assert_eq!(fd, base);
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn rfstat_allocation_fits_the_documented_pointer_tail() {
        // mpath_alloc_prin_response(RFSTAT) allocates sizeof(prin_resp) plus
        // MPATH_MX_TIDS pointers: the descriptors[] tail starts right at the end.
        assert_eq!(
            core::mem::offset_of!(PrintFulldescrList, descriptors),
            core::mem::size_of::<PrinResp>()
        );
        assert_eq!(
            MPATH_MX_TIDS * core::mem::size_of::<*mut PrinFulldescr>(),
            256
        );
    }
}
