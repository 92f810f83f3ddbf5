//! A serial port in raw mode (termios), with reads bounded by a time-out. Works the same on a
//! UART, a USB-serial adapter and a pseudo-terminal (the simulator).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

pub struct Port {
    fd: OwnedFd,
    path: String,
}

fn speed(baud: u32) -> io::Result<libc::speed_t> {
    Ok(match baud {
        1200 => libc::B1200,
        2400 => libc::B2400,
        4800 => libc::B4800,
        9600 => libc::B9600,
        19200 => libc::B19200,
        38400 => libc::B38400,
        57600 => libc::B57600,
        115200 => libc::B115200,
        230400 => libc::B230400,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unsupported baud rate {baud}"),
            ))
        }
    })
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl Port {
    /// Open `path` raw, 8N1, at `baud`.
    pub fn open(path: &str, baud: u32) -> io::Result<Port> {
        let c = std::ffi::CString::new(path)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path with NUL"))?;
        // SAFETY: a valid C string; the descriptor is owned from here on.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let port = Port {
            // SAFETY: fd was just opened and is not owned elsewhere.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: path.to_string(),
        };
        port.set_baud(baud)?;
        Ok(port)
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Raw mode at `baud`, pending input discarded.
    pub fn set_baud(&self, baud: u32) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: termios is plain data filled by tcgetattr on our descriptor.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            check(libc::tcgetattr(fd, &mut t))?;
            libc::cfmakeraw(&mut t);
            t.c_cflag |= libc::CLOCAL | libc::CREAD;
            t.c_cflag &= !(libc::CSTOPB | libc::PARENB | libc::CRTSCTS);
            let s = speed(baud)?;
            check(libc::cfsetispeed(&mut t, s))?;
            check(libc::cfsetospeed(&mut t, s))?;
            check(libc::tcsetattr(fd, libc::TCSANOW, &t))?;
            libc::tcflush(fd, libc::TCIOFLUSH);
        }
        Ok(())
    }

    /// Discard input not read yet (a late answer to an earlier command).
    pub fn discard_input(&self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.read_some(&mut buf, Duration::ZERO) {
            if n == 0 {
                break;
            }
        }
    }

    pub fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !data.is_empty() {
            // SAFETY: writing from a live slice to our descriptor.
            let n = unsafe { libc::write(self.fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline {
                    self.wait(libc::POLLOUT, Duration::from_millis(50))?;
                    continue;
                }
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            data = &data[n as usize..];
        }
        Ok(())
    }

    fn wait(&self, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one pollfd on the stack.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        if r > 0 && p.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "serial port error",
            ));
        }
        Ok(r > 0)
    }

    /// Read what is available within `timeout` (0 bytes on time-out). A hang-up (the device
    /// went away) is an error.
    pub fn read_some(&self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        if !self.wait(libc::POLLIN, timeout)? {
            return Ok(0);
        }
        // SAFETY: reading into a live buffer from our descriptor.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "serial port hung up",
            ));
        }
        Ok(n as usize)
    }
}
