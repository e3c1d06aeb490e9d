using System.Globalization;

namespace ResumableUpload.Client;

/// <summary>
/// What to upload: a file or a seekable stream, with a name, a length and a fingerprint that identifies the same
/// content across process restarts (the key of the resume state).
/// </summary>
public sealed class UploadSource
{
    private readonly Func<Stream> _open;

    private UploadSource(Func<Stream> open, string name, long length, string fingerprint, string? contentType)
    {
        _open = open;
        Name = name;
        Length = length;
        Fingerprint = fingerprint;
        ContentType = contentType;
    }

    /// <summary>The file name sent to the server (tus <c>filename</c> metadata, the X-File-Id default id).</summary>
    public string Name { get; }

    /// <summary>The length in bytes.</summary>
    public long Length { get; }

    /// <summary>Identifies this content: the same fingerprint resumes the same upload.</summary>
    public string Fingerprint { get; }

    /// <summary>The media type sent as tus <c>filetype</c> metadata, if known.</summary>
    public string? ContentType { get; }

    /// <summary>
    /// A file on disk. The fingerprint is its full path, length and last write time, so a changed file starts a new
    /// upload. The file is opened for each request and read from the offset the server holds.
    /// </summary>
    /// <param name="file">The file.</param>
    /// <param name="contentType">An optional media type.</param>
    public static UploadSource FromFile(FileInfo file, string? contentType = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        file.Refresh();
        if (!file.Exists)
        {
            throw new FileNotFoundException($"The file '{file.FullName}' does not exist.", file.FullName);
        }

        var modified = new DateTimeOffset(file.LastWriteTimeUtc).ToUnixTimeMilliseconds();
        var fingerprint = string.Create(CultureInfo.InvariantCulture, $"file:{file.FullName}:{file.Length}:{modified}");
        var path = file.FullName;
        return new UploadSource(
            () => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan),
            file.Name,
            file.Length,
            fingerprint,
            contentType);
    }

    /// <summary>
    /// A seekable stream. The stream stays the caller's: it is read from the needed offset and not disposed.
    /// </summary>
    /// <param name="stream">A readable, seekable stream; its content from position 0 to its length is uploaded.</param>
    /// <param name="name">The file name to send.</param>
    /// <param name="fingerprint">A key that names this content across restarts (for example a content hash or a
    /// database id). The same key resumes the same upload.</param>
    /// <param name="contentType">An optional media type.</param>
    public static UploadSource FromStream(Stream stream, string name, string fingerprint, string? contentType = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(fingerprint);
        if (!stream.CanRead || !stream.CanSeek)
        {
            throw new ArgumentException("The stream must be readable and seekable, so an interrupted upload can be re-read from the server's offset.", nameof(stream));
        }

        return new UploadSource(() => new NonClosingStream(stream), name, stream.Length, "stream:" + fingerprint, contentType);
    }

    internal Stream Open() => _open();

    /// <summary>Keeps the caller's stream open when the client disposes its view of it.</summary>
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => inner.Position = value; }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
