namespace ResumableUpload.Client;

/// <summary>The wire protocol a <see cref="ResumableUploadClient"/> speaks.</summary>
public enum UploadProtocol
{
    /// <summary>
    /// The X-File-Id protocol: <c>GET {endpoint}status</c> and <c>POST {endpoint}upload</c> with <c>X-File-Id</c>,
    /// <c>X-Start-Byte</c> and <c>X-File-Size</c>. The upload id is chosen by the client.
    /// </summary>
    XFileId,

    /// <summary>tus 1.0 (creation, core, checksum when the server advertises <c>sha256</c>).</summary>
    Tus,

    /// <summary>
    /// The IETF "Resumable Uploads for HTTP" draft, with the interop version of
    /// <see cref="ResumableUploadClientOptions.IetfInteropVersion"/>.
    /// </summary>
    Ietf,
}
