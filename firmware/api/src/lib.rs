//! The vendor CameraService protocol, independent of any device: URL grammar, tolerant request
//! parsing, the reply envelope, CORS/PNA/Host checks, and ONE dispatch table shared by HTTP and
//! WebSocket. Capabilities register handlers in the [`Table`]; the daemon serves it with
//! [`router`].

pub mod budget;
pub mod error;
pub mod listen;
pub mod mjpeg;
pub mod param;
pub mod reply;
pub mod request;
pub mod server;
pub mod table;
pub mod url;
pub mod ws;

pub use budget::{Budget, Reservation};
pub use error::{ApiError, ErrorKind, Language, Text};
pub use param::ParamRoutes;
pub use reply::Reply;
pub use request::{ApiRequest, EndpointKey, Fields, Transport};
pub use server::{router, Server, ServerOptions};
pub use table::{blocking, handler, Handler, HandlerResult, Table};
pub use ws::WsPeer;
