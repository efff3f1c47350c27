//! Sans-IO codecs: bytes in → values out, values in → bytes out.
//!
//! Nothing here touches sockets, engines or the clock. `frame` splits a byte stream into frames (check first,
//! then parse: "not enough bytes yet" is a normal outcome), `request` turns a request frame's payload into a typed
//! [`Request`], `reply` turns a typed [`Reply`] into a response frame, and `queue` and `stream` hold the layouts
//! several queue or stream opcodes share. The wire format is specified in `docs/protocol.md`; `tests/vectors/`
//! holds the golden vectors both this module and the TypeScript SDK test against.

/// Declares a `#[repr(u16)]` enum of the wire protocol with its number table: `ALL` (every variant in table
/// order), `from_u16` (the variant for a wire number) and `name` (the name used in `docs/protocol.md` and the SDK).
macro_rules! wire_enum {
    ($(#[$enum_doc:meta])* $enum_name:ident { $($(#[$doc:meta])* $name:ident = $value:literal,)* }) => {
        $(#[$enum_doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum $enum_name {
            $($(#[$doc])* $name = $value,)*
        }

        impl $enum_name {
            /// Every variant, in table order.
            pub const ALL: &'static [$enum_name] = &[$($enum_name::$name,)*];

            /// The variant for a wire number, or `None` for a number no variant uses.
            pub fn from_u16(value: u16) -> Option<$enum_name> {
                match value {
                    $($value => Some($enum_name::$name),)*
                    _ => None,
                }
            }

            /// The name used in `docs/protocol.md` and the SDK.
            pub fn name(self) -> &'static str {
                match self {
                    $($enum_name::$name => stringify!($name),)*
                }
            }
        }
    };
}

pub mod error_code;
pub mod frame;
pub mod opcode;
pub mod payload;
pub mod queue;
pub mod reply;
pub mod request;
pub mod resp;
pub mod stream;

pub use error_code::ErrorCode;
pub use frame::{FrameCheck, FrameHeader, FrameKind, HEADER_LEN};
pub use opcode::Opcode;
pub use payload::{PayloadReader, WireError};
pub use queue::{WireBackoff, WireDeadMessage, WireDelivery, WirePushItem, WireQueueOptions};
pub use reply::Reply;
pub use request::{Request, SetCondition, WireValue};
pub use stream::{WireDeadRecord, WireGroupStats, WirePosition, WireRecord, WireStreamOptions};

/// The native protocol version this server speaks; clients send theirs in `HELLO`.
pub const PROTOCOL_VERSION: u16 = 1;
