using System.Buffers;

namespace ResumableUpload.Middleware.Storage;

/// <summary>
/// An optional capability of an <see cref="IUploadDataWriter"/>: takes a whole <see cref="ReadOnlySequence{T}"/> (what
/// one <c>PipeReader.ReadAsync</c> returned) in one call, so a store can hand the pipe's own buffers to the operating
/// system in one vectored write instead of one write per segment. The engine asks for it and falls back to
/// <see cref="IUploadDataWriter.WriteAsync"/> per segment.
/// </summary>
internal interface IUploadDataSequenceWriter
{
    /// <summary>
    /// Writes <paramref name="data"/> at <see cref="IUploadDataWriter.Position"/>. When it throws, <c>Position</c>
    /// counts only the bytes known to be written.
    /// </summary>
    ValueTask WriteAsync(ReadOnlySequence<byte> data, CancellationToken cancellationToken);
}
