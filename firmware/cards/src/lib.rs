//! Card readers, spoken to directly (no vendor SDK).
//!
//! - [`sam`]: the frame protocol of resident ID card SAM modules (GA 467 style): framing,
//!   checksums, status words, commands.
//! - [`idcard`]: the 256-byte text block of resident ID cards, Hong Kong/Macau/Taiwan residence
//!   permits (J) and foreign permanent resident cards (I); nation and sex names; SAM ID format.
//! - [`serial`]: a raw serial port (termios) with time-outs.
//! - [`reader`]: a SAM module on a serial port: probing the baud rate, reading a card; the ID card
//!   reader class ([`reader::IdCardReader`]).
//! - [`apdu`], [`tlv`]: APDU exchange with the T=0 conventions, BER-TLV.
//! - [`social`]: social security cards; [`emv`]: PBOC/EMV bank cards; [`pcsc_reader`]: the smart
//!   card reader class ([`pcsc_reader::SmartCardReaders`]) and PC/SC.
//! - [`magstripe`]: magnetic stripe swipes and the stripe reader class
//!   ([`magstripe::StripeReader`]): serial and HID readers.
//! - [`wlt`]: loading a licensed ID photo decoder.
//!
//! Each hardware class is a trait with a real and a disabled backend here; the simulated backends
//! are in the `devsim` crate.

pub mod apdu;
pub mod emv;
pub mod idcard;
pub mod magstripe;
pub mod pcsc_reader;
pub mod reader;
pub mod sam;
pub mod serial;
pub mod social;
pub mod tlv;
pub mod wlt;
