//! How a simulated logical unit behaves: its personality, its REPORT CAPABILITIES, its
//! resource limits and where its APTPL state lives.

use std::path::PathBuf;

use pr_core::prin::{AllowCommands, Capabilities, CapabilityFlags, TypeMask};

/// Which device server the logical unit imitates.
///
/// LIO's persistent reservations changed between kernel versions; each LIO variant names the
/// first kernel whose behaviour it models, and [`Personality::lio_for_kernel`] picks the one
/// for a kernel release string. Both LIO variants answer INQUIRY and REPORT CAPABILITIES
/// alike; they differ only where the crate's `DEPARTURES.md` says so (section "LIO 7.1").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Personality {
    /// SPC-5 as written (the default).
    #[default]
    Spc5,
    /// The Linux LIO target of kernel 6.1 (Debian 12) as observed in the project's lab, with
    /// every departure from SPC listed in the crate's `DEPARTURES.md`. Kernels 6.2 to 7.0
    /// were not observed; the one difference the lab found on 7.2 came with 7.1
    /// ([`Personality::Lio7_1`]), so they are expected to behave as this one.
    Lio,
    /// The Linux LIO target of kernel 7.1 and later (observed: 7.2.13, Debian sid): [`Lio`]
    /// except that PREEMPT and PREEMPT AND ABORT check TYPE and SCOPE only when they are used
    /// (when the command preempts the reservation), after the registration and key checks;
    /// when they remove registrations, a reserved TYPE or a non-zero SCOPE is ignored. The
    /// change is Linux commit 070ec6f69141 "scsi: target: Don't validate ignored fields in
    /// PROUT PREEMPT", merged for 7.1 (`DEPARTURES.md`, section "LIO 7.1").
    ///
    /// [`Lio`]: Personality::Lio
    Lio7_1,
}

impl Personality {
    /// Whether this is one of the LIO personalities.
    pub fn is_lio(self) -> bool {
        matches!(self, Personality::Lio | Personality::Lio7_1)
    }

    /// The LIO personality for a Linux kernel release as `uname -r` prints it
    /// (`6.1.0-56-amd64`, `7.2.13+deb14-amd64`): [`Personality::Lio7_1`] from 7.1 on,
    /// [`Personality::Lio`] before (modelled on 6.1; other kernels before 7.1 were not
    /// observed).
    /// `None` when the release does not start with `MAJOR.MINOR`.
    pub fn lio_for_kernel(release: &str) -> Option<Personality> {
        let mut parts = release.trim().splitn(3, '.');
        let major: u32 = parts.next()?.parse().ok()?;
        let minor_text = parts.next()?;
        let digits = minor_text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(minor_text.len());
        let minor: u32 = minor_text.get(..digits)?.parse().ok()?;
        Some(if (major, minor) >= (7, 1) {
            Personality::Lio7_1
        } else {
            Personality::Lio
        })
    }
}

impl std::fmt::Display for Personality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Personality::Spc5 => "SPC-5",
            Personality::Lio => "LIO (Linux 6.1 to 7.0)",
            Personality::Lio7_1 => "LIO (Linux 7.1 and later)",
        })
    }
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
    /// Ignored by the LIO personalities, whose answer is constant.
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

    /// A logical unit that behaves as LIO of Linux 6.1 does ([`Personality::Lio`]).
    pub fn lio() -> Self {
        LunConfig {
            personality: Personality::Lio,
            capabilities: Self::lio_capabilities(),
            ..Self::spc5()
        }
    }

    /// A logical unit that behaves as LIO of Linux 7.1 and later does
    /// ([`Personality::Lio7_1`]).
    pub fn lio7_1() -> Self {
        Self::lio().with_personality(Personality::Lio7_1)
    }

    /// The same configuration with another personality. Choosing an LIO personality does
    /// not change [`capabilities`](LunConfig::capabilities), which LIO ignores anyway.
    pub fn with_personality(mut self, personality: Personality) -> Self {
        self.personality = personality;
        self
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
