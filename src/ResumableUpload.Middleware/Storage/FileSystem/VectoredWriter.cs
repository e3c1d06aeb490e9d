using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ResumableUpload.Middleware.Storage.FileSystem;

/// <summary>
/// Writes the segments of a <see cref="ReadOnlySequence{T}"/> with one <c>pwritev</c> per batch of up to
/// <see cref="MaxVectors"/> segments, without allocating: the vector and the pin handles are arrays kept by the
/// writer and reused for every chunk. Linux only (<see cref="IsSupported"/>); array-backed segments only (what
/// Kestrel's pipe hands out), any other segment is written on its own.
/// </summary>
internal sealed class VectoredWriter
{
    private const int MaxVectors = 64;
    private readonly IoVector[] _vectors = new IoVector[MaxVectors];
    private readonly GCHandle[] _pins = new GCHandle[MaxVectors];
    private readonly ReadOnlyMemory<byte>[] _segments = new ReadOnlyMemory<byte>[MaxVectors];

    /// <summary>
    /// Whether <c>pwritev</c> can be called here: Linux, and the C library resolved on first use (a process-wide fact,
    /// found once; the only static state of the store).
    /// </summary>
    public static bool IsSupported => OperatingSystem.IsLinux() && !s_unavailable;

    private static volatile bool s_unavailable;

    /// <summary>Writes <paramref name="data"/> at <paramref name="position"/>; returns the position after it.</summary>
    /// <exception cref="IOException">The write failed (the message and <c>HResult</c> carry the errno, as .NET's own do).</exception>
    public long Write(SafeFileHandle handle, ReadOnlySequence<byte> data, long position)
    {
        var count = 0;
        foreach (var segment in data)
        {
            if (segment.IsEmpty)
            {
                continue;
            }

            if (!MemoryMarshal.TryGetArray(segment, out _))
            {
                position = WriteBatch(handle, count, position);
                count = 0;
                RandomAccess.Write(handle, segment.Span, position);
                position += segment.Length;
                continue;
            }

            _segments[count++] = segment;
            if (count == MaxVectors)
            {
                position = WriteBatch(handle, count, position);
                count = 0;
            }
        }

        return WriteBatch(handle, count, position);
    }

    private long WriteBatch(SafeFileHandle handle, int count, long position)
    {
        if (count == 0)
        {
            return position;
        }

        long total = 0;
        var pinned = 0;
        try
        {
            for (; pinned < count; pinned++)
            {
                MemoryMarshal.TryGetArray(_segments[pinned], out var array);
                _pins[pinned] = GCHandle.Alloc(array.Array, GCHandleType.Pinned);
                _vectors[pinned] = new IoVector(_pins[pinned].AddrOfPinnedObject() + array.Offset, (nuint)array.Count);
                total += array.Count;
            }

            nint written;
            try
            {
                written = pwritev(handle, _vectors, count, position);
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                s_unavailable = true;
                written = 0; // nothing written: the loop below writes every segment
            }

            if (written < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException($"Writing the upload's bytes failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);
            }

            if (written < total)
            {
                // A short write (rare: a signal, a full disk): write the rest segment by segment, which throws on error.
                var skip = written;
                for (var i = 0; i < count; i++)
                {
                    var segment = _segments[i];
                    if (skip >= segment.Length)
                    {
                        skip -= segment.Length;
                        continue;
                    }

                    RandomAccess.Write(handle, segment.Span[(int)skip..], position + written);
                    written += segment.Length - skip;
                    skip = 0;
                }
            }

            return position + total;
        }
        finally
        {
            for (var i = 0; i < pinned; i++)
            {
                _pins[i].Free();
            }

            Array.Clear(_segments, 0, count);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct IoVector(nint start, nuint length)
    {
        public readonly nint Start = start;
        public readonly nuint Length = length;
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code in this assembly; the signature is blittable.
    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint pwritev(SafeFileHandle fd, [In] IoVector[] iov, int iovcnt, long offset);
#pragma warning restore SYSLIB1054
}
