//! How a simulated logical unit behaves: its personality, its REPORT CAPABILITIES, its
//! resource limits and where its APTPL state lives.

use std::path::PathBuf;

use pr_core::prin::{AllowCommands, Capabilities, CapabilityFlags, TypeMask};

/// Which device server the logical unit imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Personality {
    /// SPC-5 as written (the default).
    #[default]
    Spc5,
    /// The Linux LIO target (kernel 6.1) as observed in the project's lab, with every
    /// departure from SPC listed in the crate's `DEPARTURES.md`.
    Lio,
}

/// The configuration of one simulated logical unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LunConfig {
    /// SPC-5 or LIO behaviour.
    pub personality: Personality,
    /// What REPORT CAPABILITIES reports and what the device server therefore accepts:
    /// SIP_C, ATP_C, PTPL_C and RLR_C gate SPEC_I_PT, ALL_TG_PT, APTPL and REPLACE LOST
    /// RESERVATION; the type mask (when TMV is set) gates reservation types; ALLOW COMMANDS
    /// 000b makes TEST UNIT READY conflict like a read (SPC allows TEST UNIT READY through
    /// every reservation but lets devices of earlier versions conflict, and 000b reports
    /// nothing either way: a choice that emulates such a device; see `DEPARTURES.md`).
    /// PTPL_A is computed, not configured.
    /// Ignored by [`Personality::Lio`], whose answer is constant.
    pub capabilities: Capabilities,
    /// Most registrations the logical unit holds; one more gives INSUFFICIENT REGISTRATION
    /// RESOURCES (55h/04h).
    pub max_registrations: usize,
    /// Where APTPL state is written (atomically, on every change while APTPL is active) and
    /// read back at power on. Without it, APTPL state survives a simulated power cycle in
    /// memory only.
    pub state_file: Option<PathBuf>,
    /// Number of 512-byte logical blocks (READ/WRITE).
    pub block_count: u64,
    /// Unit serial number (INQUIRY page 80h).
    pub serial: String,
}

/// Logical block length of every simulated logical unit.
pub const BLOCK_LEN: usize = 512;

impl LunConfig {
    /// The capabilities of an SPC-5 device that supports everything: RLR_C, SIP_C, ATP_C,
    /// PTPL_C, TMV, ALLOW COMMANDS 001b, all six types.
    pub fn full_capabilities() -> Capabilities {
        Capabilities {
            length: 8,
            flags: CapabilityFlags::RLR_C
                | CapabilityFlags::SIP_C
                | CapabilityFlags::ATP_C
                | CapabilityFlags::PTPL_C
                | CapabilityFlags::TMV,
            allow_commands: AllowCommands(1),
            type_mask: TypeMask::all(),
            reserved_flag_bits: 0,
            reserved_type_bits: 0,
        }
    }

    /// What LIO reports (`00 08 1d 90 ea 01 00 00`, PTPL_A aside).
    pub fn lio_capabilities() -> Capabilities {
        Capabilities {
            length: 8,
            flags: CapabilityFlags::CRH
                | CapabilityFlags::SIP_C
                | CapabilityFlags::ATP_C
                | CapabilityFlags::PTPL_C
                | CapabilityFlags::TMV,
            allow_commands: AllowCommands(1),
            type_mask: TypeMask::all(),
            reserved_flag_bits: 0,
            reserved_type_bits: 0,
        }
    }

    /// An SPC-5 logical unit with every capability, 64 registrations, 2048 blocks.
    pub fn spc5() -> Self {
        LunConfig {
            personality: Personality::Spc5,
            capabilities: Self::full_capabilities(),
            max_registrations: 64,
            state_file: None,
            block_count: 2048,
            serial: "pr-sim-lun".to_string(),
        }
    }

    /// A logical unit that behaves as LIO does.
    pub fn lio() -> Self {
        LunConfig {
            personality: Personality::Lio,
            capabilities: Self::lio_capabilities(),
            ..Self::spc5()
        }
    }

    /// The same configuration with other capabilities.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// The same configuration with the capability bits in `off` cleared (for example
    /// `CapabilityFlags::SIP_C` for an array without SPEC_I_PT).
    pub fn without(mut self, off: CapabilityFlags) -> Self {
        self.capabilities.flags.remove(off);
        self
    }

    /// The same configuration with another registration limit.
    pub fn with_max_registrations(mut self, n: usize) -> Self {
        self.max_registrations = n;
        self
    }

    /// The same configuration with an APTPL state file.
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// The same configuration with another serial number.
    pub fn with_serial(mut self, serial: impl Into<String>) -> Self {
        self.serial = serial.into();
        self
    }
}

impl Default for LunConfig {
    fn default() -> Self {
        Self::spc5()
    }
}
