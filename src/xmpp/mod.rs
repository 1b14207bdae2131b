//! Pure translation between stanzas and the gateway's model, one concern per file.
//! Nothing here does I/O.

pub mod address;
pub mod adhoc;
pub mod delay;
pub mod directory;
pub mod disco;
pub mod errors;
pub mod follow;
pub mod form;
pub mod history;
pub mod invite;
pub mod mam;
pub mod message;
pub mod missed;
pub mod muc;
pub mod ns;
pub mod presence;
pub mod register;
pub mod room_line;
pub mod text;
pub mod version;

#[cfg(test)]
pub(crate) mod testing;
