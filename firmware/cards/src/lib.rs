//! Card readers, spoken to directly (no vendor SDK).
//!
//! - [`sam`]: the frame protocol of resident ID card SAM modules (GA 467 style): framing,
//!   checksums, status words, commands.
//! - [`idcard`]: the 256-byte text block of resident ID cards, Hong Kong/Macau/Taiwan residence
//!   permits (J) and foreign permanent resident cards (I); nation and sex names; SAM ID format.
//! - [`serial`]: a raw serial port (termios) with time-outs.
//! - [`reader`]: a SAM module on a serial port: probing the baud rate, reading a card.
//! - [`sim`]: a simulated SAM module answering the same frames (used by `--sim` and the tests,
//!   on a pseudo-terminal).
//! - [`apdu`], [`tlv`]: APDU exchange with the T=0 conventions, BER-TLV.
//! - [`social`]: social security cards; [`emv`]: PBOC/EMV bank cards; [`simcard`]: simulated
//!   cards answering their APDUs (in-process, or through vpcd to a real pcscd).

pub mod apdu;
pub mod emv;
pub mod idcard;
pub mod magstripe;
pub mod pcsc_reader;
pub mod reader;
pub mod sam;
pub mod serial;
pub mod sim;
pub mod simcard;
pub mod social;
pub mod tlv;
pub mod wlt;
