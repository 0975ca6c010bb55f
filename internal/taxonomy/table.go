package taxonomy

import "regexp"

// source is a public document the built-in rows rely on. Vendors' own pages
// first; where a code could not be checked against one, the title says so.
type source struct{ key, title, url string }

var (
	srcAPNs = &source{"apns", "Apple: Handling notification responses from APNs",
		"https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns"}
	srcFCM = &source{"fcm", "Firebase: FCM v1 ErrorCode",
		"https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode"}
	srcHuawei = &source{"huawei", "Huawei Push Kit: common error codes",
		"https://developer.huawei.com/consumer/cn/doc/development/HMSCore-Guides/commonerror-0000001059816656"}
	srcHuaweiHTTP = &source{"huawei-http", "Huawei Push: HTTP and service response codes",
		"https://developer.huawei.com/consumer/en/doc/harmonyos-references-V13/push-scenariozed-api-response-V13"}
	srcHuaweiFAQ = &source{"huawei-faq", "HMS Core team: causes of common server error codes",
		"https://blog.csdn.net/HUAWEI_HMSCore/article/details/125866284"}
	srcHuaweiUnchecked = &source{"huawei-unchecked", "Huawei Push Kit error code, widely cited, not re-checked", ""}
	srcHuaweiLegacy    = &source{"huawei-legacy", "Alibaba mPaaS: message push status codes, Huawei channel (legacy Huawei API)",
		"https://help.aliyun.com/document_detail/398576.html"}
	srcHonor = &source{"honor", "Huawei's numbering, assumed for Honor, not re-checked", ""}
	srcMi    = &source{"xiaomi", "Xiaomi Push: server error codes",
		"https://dev.mi.com/xiaomihyperos/documentation/detail?pId=1560"}
	srcOPPO = &source{"oppo", "OPPO PUSH server API: common parameters and return codes (also opush-server-sdk ReturnCode)",
		"https://open.oppomobile.com/"}
	srcVivo = &source{"vivo", "vivo push server API 2.9.2, over-quota notes (dev.vivo.com.cn; mirrored)",
		"https://app.applebyme.cn/cloud/appshangjia/2017.html"}
	srcMeizu = &source{"meizu", "Meizu push (UPS) HTTP API return codes",
		"https://github.com/MEIZUPUSH/ups-http-api"}
	srcMeizuNPM = &source{"meizu-sdk", "Meizu Flyme push Node.js SDK return codes",
		"https://npmjs.com/package/meizu-push"}
	srcTencent = &source{"tencent", "Tencent Cloud Chat Push: error codes",
		"https://cloud.tencent.com/document/product/269/117847"}
	srcTencentLoss = &source{"tencent-loss", "Tencent Cloud Chat Push: normal_push_loss (reference §2: ErrCode -1, \"token not uploaded\")",
		"https://www.tencentcloud.com/document/product/1047/71898"}
	srcPatterns = &source{"patterns", "text fallback", ""}
)

// Tencent's own stages: a failure there is Tencent's, whatever the platform.
var tencentStages = []string{"im", "offline"}

func code(platform string, c int, reason string, src *source, note string) rule {
	return rule{platform: platform, hasCode: true, code: c, reason: reason, src: src, note: note}
}

func codeText(platform string, c int, pattern, reason string, src *source, note string) rule {
	r := code(platform, c, reason, src, note)
	r.info = regexp.MustCompile("(?i)" + pattern)
	return r
}

func text(platform, pattern, reason string, src *source, note string) rule {
	return rule{platform: platform, info: regexp.MustCompile("(?i)" + pattern), reason: reason, src: src, note: note}
}

func tencent(c int, reason, note string) rule {
	r := code("", c, reason, srcTencent, note)
	r.stages = tencentStages
	return r
}

// builtin returns the table. Within each kind the order is the order of
// trial: a row with code and text before the same code alone.
func builtin() []rule {
	return []rule{
		// Tencent's push service, at its own stages (any platform).
		func() rule {
			r := codeText("", -1, `token`, TokenInvalid, srcTencentLoss, "-1 token not uploaded")
			r.stages = []string{"offline"}
			return r
		}(),
		tencent(90024, RateLimited, "90024 pushes too frequent"),
		tencent(90047, QuotaExceeded, "90047 daily push limit exceeded"),
		tencent(90056, Payload, "90056 request body too large"),
		tencent(90102, VendorUnavailable, "90102 internal error, retry"),
		tencent(91000, VendorUnavailable, "91000 internal error, retry"),

		// Apple APNs: HTTP status codes.
		code("apns", 403, AuthOrCertificate, srcAPNs, "403 certificate or provider token error"),
		code("apns", 410, TokenInvalid, srcAPNs, "410 Unregistered / ExpiredToken: token no longer active"),
		code("apns", 413, Payload, srcAPNs, "413 PayloadTooLarge"),
		code("apns", 429, RateLimited, srcAPNs, "429 TooManyRequests / TooManyProviderTokenUpdates"),
		code("apns", 500, VendorUnavailable, srcAPNs, "500 InternalServerError"),
		code("apns", 503, VendorUnavailable, srcAPNs, "503 ServiceUnavailable / Shutdown"),
		// 400 covers bad tokens and bad requests alike: left to the texts below.

		// Google FCM v1: HTTP status of each ErrorCode.
		codeText("fcm", 400, `token|registration`, TokenInvalid, srcFCM, "400 INVALID_ARGUMENT: invalid registration token"),
		code("fcm", 400, Payload, srcFCM, "400 INVALID_ARGUMENT: invalid message fields, message too big"),
		code("fcm", 401, AuthOrCertificate, srcFCM, "401 THIRD_PARTY_AUTH_ERROR: APNs certificate or web push key"),
		code("fcm", 403, AuthOrCertificate, srcFCM, "403 SENDER_ID_MISMATCH: token belongs to another sender"),
		code("fcm", 404, TokenInvalid, srcFCM, "404 UNREGISTERED"),
		code("fcm", 429, RateLimited, srcFCM, "429 QUOTA_EXCEEDED: message rate quotas, retry with back-off"),
		code("fcm", 500, VendorUnavailable, srcFCM, "500 INTERNAL"),
		code("fcm", 503, VendorUnavailable, srcFCM, "503 UNAVAILABLE"),

		// Huawei Push Kit.
		code("huawei", 401, AuthOrCertificate, srcHuaweiHTTP, "HTTP 401 authentication failed"),
		code("huawei", 500, VendorUnavailable, srcHuaweiHTTP, "HTTP 500 internal service error"),
		code("huawei", 502, VendorUnavailable, srcHuaweiHTTP, "HTTP 502 connection error"),
		code("huawei", 503, RateLimited, srcHuawei, "HTTP 503 flow control (流量控制)"),
		code("huawei", 80100003, Payload, srcHuawei, "80100003 incorrect message structure"),
		code("huawei", 80100016, Payload, srcHuawei, "80100016 message contains sensitive words"),
		code("huawei", 80200001, AuthOrCertificate, srcHuaweiFAQ, "80200001 OAuth authentication error"),
		code("huawei", 80200003, AuthOrCertificate, srcHuaweiFAQ, "80200003 OAuth token expired"),
		code("huawei", 80300002, AuthOrCertificate, srcHuawei, "80300002 no permission to send to the token"),
		code("huawei", 80300007, TokenInvalid, srcHuawei, "80300007 invalid token"),
		code("huawei", 80300008, Payload, srcHuaweiUnchecked, "80300008 message body size exceeds the limit"),
		code("huawei", 80300010, Payload, srcHuaweiFAQ, "80300010 number of tokens in the message out of range"),
		code("huawei", 81000001, VendorUnavailable, srcHuaweiUnchecked, "81000001 internal system error"),
		code("huawei", 80000003, DeviceInactive, srcHuaweiLegacy, "80000003 device offline"),
		code("huawei", 80000004, DeviceInactive, srcHuaweiLegacy, "80000004 app uninstalled"),
		code("huawei", 80000005, VendorUnavailable, srcHuaweiLegacy, "80000005 response timeout"),

		// Honor: Huawei's codes.
		code("honor", 80100003, Payload, srcHonor, "80100003 incorrect message structure"),
		code("honor", 80200003, AuthOrCertificate, srcHonor, "80200003 auth token expired"),
		code("honor", 80300007, TokenInvalid, srcHonor, "80300007 invalid token"),
		code("honor", 80300008, Payload, srcHonor, "80300008 message body too large"),
		code("honor", 81000001, VendorUnavailable, srcHonor, "81000001 internal error"),

		// Xiaomi.
		code("xiaomi", 1, VendorUnavailable, srcMi, "1 internal error"),
		code("xiaomi", 10001, VendorUnavailable, srcMi, "10001 system error"),
		code("xiaomi", 10002, VendorUnavailable, srcMi, "10002 system busy"),
		code("xiaomi", 10003, VendorUnavailable, srcMi, "10003 remote service error"),
		code("xiaomi", 10016, Payload, srcMi, "10016 required parameter missing"),
		code("xiaomi", 10017, Payload, srcMi, "10017 invalid parameter value"),
		code("xiaomi", 10027, RateLimited, srcMi, "10027 API called too often"),
		code("xiaomi", 10034, QuotaExceeded, srcMi, "10034 too many messages sent by the app today"),
		// 20301 is "send failed" in Xiaomi's table; in practice it comes with
		// "No valid targets!" (invalid regIds), so only that text is mapped.
		codeText("xiaomi", 20301, `regid|valid target`, TokenInvalid, srcMi, "20301 send failed, with an invalid-regId text"),
		code("xiaomi", 21301, AuthOrCertificate, srcMi, "21301 authentication failed"),
		code("xiaomi", 21302, AuthOrCertificate, srcMi, "21302 token authentication failed"),
		code("xiaomi", 22006, AuthOrCertificate, srcMi, "22006 invalid app id"),
		code("xiaomi", 22007, AuthOrCertificate, srcMi, "22007 invalid app key"),
		code("xiaomi", 26004, RateLimited, srcMi, "26004 broadcasts too frequent"),
		code("xiaomi", 65003, DeviceInactive, srcMi, "65003 device not found, usually offline"),
		code("xiaomi", 65009, Payload, srcMi, "65009 message content too long"),
		code("xiaomi", 65015, Payload, srcMi, "65015 key-value pairs too long"),
		code("xiaomi", 65029, VendorUnavailable, srcMi, "65029 remote service exception"),

		// OPPO.
		code("oppo", -2, RateLimited, srcOPPO, "-2 Service in Flow Control"),
		code("oppo", -1, VendorUnavailable, srcOPPO, "-1 Service Currently Unavailable"),
		// 11 is "Invalid AuthToken" (the app's auth_token, not the device's
		// registration id): mapped only with a text that says so.
		codeText("oppo", 11, `auth`, AuthOrCertificate, srcOPPO, "11 Invalid AuthToken"),
		code("oppo", 13, RateLimited, srcOPPO, "13 App Call Limited (calls or frequency)"),
		code("oppo", 14, AuthOrCertificate, srcOPPO, "14 Invalid App Key"),
		code("oppo", 16, AuthOrCertificate, srcOPPO, "16 Invalid Signature"),
		code("oppo", 30, AuthOrCertificate, srcOPPO, "30 Api Permission Denied"),
		code("oppo", 33, QuotaExceeded, srcOPPO, "33 messages exceed the daily limit"),
		code("oppo", 41, Payload, srcOPPO, "41 Invalid Arguments"),
		code("oppo", 55, RateLimited, srcOPPO, "55 App Call Frequency Limit"),

		// vivo.
		code("vivo", 10070, QuotaExceeded, srcVivo, "10070 total sends over the limit"),
		code("vivo", 10252, QuotaExceeded, srcVivo, "10252 batch message bodies over the limit"),
		code("vivo", 10254, QuotaExceeded, srcVivo, "10254 broadcasts over the daily count"),

		// Meizu.
		code("meizu", 518, RateLimited, srcMeizuNPM, "518 push over the configured rate"),
		code("meizu", 519, VendorUnavailable, srcMeizuNPM, "519 service overloaded"),
		code("meizu", 1001, VendorUnavailable, srcMeizu, "1001 system error"),
		code("meizu", 1003, VendorUnavailable, srcMeizu, "1003 server busy"),
		code("meizu", 1006, AuthOrCertificate, srcMeizu, "1006 signature authentication failed"),
		code("meizu", 110000, AuthOrCertificate, srcMeizu, "110000 invalid appId"),
		code("meizu", 110001, AuthOrCertificate, srcMeizu, "110001 invalid appKey"),
		// The SDK's table adds that 110002 includes devices whose push switch is off.
		code("meizu", 110002, TokenInvalid, srcMeizu, "110002 pushId invalid / not subscribed"),
		code("meizu", 110003, TokenInvalid, srcMeizu, "110003 pushId illegal"),
		code("meizu", 110005, TokenInvalid, srcMeizu, "110005 alias invalid"),
		code("meizu", 110010, RateLimited, srcMeizu, "110010 app pushes too fast"),
		code("meizu", 110053, QuotaExceeded, srcMeizu, "110053 pass-through messages over the limit"),

		// Vendor texts, where the code alone does not say.
		text("apns", `TooManyProviderTokenUpdates|TooManyRequests`, RateLimited, srcAPNs, "429 reasons"),
		text("apns", `ProviderToken|BadCertificate|Forbidden|BadTopic|TopicDisallowed`, AuthOrCertificate, srcAPNs, "403 reasons; 400 BadTopic, TopicDisallowed"),
		text("apns", `BadDeviceToken|MissingDeviceToken|DeviceTokenNotForTopic|Unregistered|ExpiredToken`, TokenInvalid, srcAPNs, "400 BadDeviceToken, DeviceTokenNotForTopic; 410 reasons"),
		text("apns", `Payload|BadCollapseId|BadExpirationDate|BadPriority|BadMessageId|DuplicateHeaders|MissingTopic`, Payload, srcAPNs, "400 and 413 request reasons"),
		text("apns", `InternalServerError|ServiceUnavailable|Shutdown`, VendorUnavailable, srcAPNs, "500 and 503 reasons"),
		text("fcm", `SENDER_ID_MISMATCH|MismatchSenderId|THIRD_PARTY_AUTH_ERROR`, AuthOrCertificate, srcFCM, "SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR"),
		text("fcm", `UNREGISTERED|NotRegistered|InvalidRegistration`, TokenInvalid, srcFCM, "UNREGISTERED"),
		text("fcm", `QUOTA_EXCEEDED|MessageRateExceeded`, RateLimited, srcFCM, "QUOTA_EXCEEDED (rate quotas)"),
		text("fcm", `INVALID_ARGUMENT|MessageTooBig`, Payload, srcFCM, "INVALID_ARGUMENT"),

		// Any platform: the words of error texts, most specific first.
		text("", `notif(y|ication)s?\b.*\b(disabled|closed|off|not enabled|blocked)\b|\b(push|notification)[ _-]?switch\b|\bswitch(ed)?[ _-]?(off|closed)\b|通知.{0,10}(关闭|禁用|未开启|未打开)|(推送|通知)开关`,
			NotificationsDisabled, srcPatterns, "notifications disabled / closed / off, push switch"),
		text("", `\binactive\b|not online|no online|(device|terminal|user|client)\W+(is\W+)?offline|\boffline\W+(device|terminal)|\bnot connected\b|uninstall|device not found|no such device|不在线|离线|卸载|未找到设备|找不到设备`,
			DeviceInactive, srcPatterns, "inactive, offline device, not online, uninstalled"),
		text("", `certificate|\bcert\b|credential|\bp12\b|provider ?token|oauth|auth|\bsignature\b|\bsign (error|invalid|failed)|app ?key|app ?secret|master ?secret|api ?key|access ?token|permission|forbidden|证书|鉴权|认证|签名|权限`,
			AuthOrCertificate, srcPatterns, "certificate, auth, credential, signature, app key, permission"),
		text("", `token|reg[ _-]?id|regist(ration|er)[ _-]?id|push[ _-]?id|unregistered|not[ _-]?registered|invalid[ _-]?registration|valid target|令牌|设备标识`,
			TokenInvalid, srcPatterns, "token, regId, registration id, unregistered"),
		text("", `payload|\bbody\b|too ?(large|long|big)|message (content|size)|content (illegal|invalid)|sensitive|invalid[ _-]?(argument|param)|消息体|内容|敏感|长度`,
			Payload, srcPatterns, "payload, body, too large / long, content, invalid argument"),
		text("", `rate[ _-]?limit|too ?many ?requests|too frequent|frequen|throttl|traffic control|flow control|\bqps\b|频率|频繁|限流|流控|流量控制`,
			RateLimited, srcPatterns, "rate limit, too many requests, frequency, flow control"),
		text("", `quota|limit exceeded|exceed(s|ed)? (the )?(daily )?limit|over (the )?limit|daily|per day|today|too ?many|配额|额度|超限|限额|当日|当天`,
			QuotaExceeded, srcPatterns, "quota, limit exceeded, daily, too many"),
		text("", `time ?out|timed out|unavailable|internal|system error|server error|service error|busy|try again|retry|shut ?down|繁忙|内部错误|系统错误|超时|服务不可用|服务异常`,
			VendorUnavailable, srcPatterns, "timeout, unavailable, internal / system error, busy"),
	}
}
