namespace ResumableUpload.Middleware.Http;

internal static class UploadHeaders
{
    public const string FileId = "X-File-Id";
    public const string StartByte = "X-Start-Byte";
    public const string FileSize = "X-File-Size";
    public const string UploadOffset = "Upload-Offset";
    public const string UploadLength = "Upload-Length";
    public const string UploadComplete = "Upload-Complete";
}
