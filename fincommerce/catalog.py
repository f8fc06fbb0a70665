"""Product catalogue: a seeded synthetic generator and a forgiving CSV loader.

The generator gives demos and tests a realistic, reproducible catalogue without shipping data;
the loader lets users bring their own catalogue while reporting (not crashing on) bad rows.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

CATALOG_COLUMNS: list[str] = ["id", "name", "brand", "categories", "price", "description"]
REQUIRED_COLUMNS: list[str] = ["id", "name", "price"]
_CATEGORY_SPLIT = re.compile(r"[|>;]")
_MAX_LOGGED_REASONS = 5


@dataclass(frozen=True)
class RowError:
    """A rejected CSV row, kept as data so callers can show users exactly what to fix."""

    row: int
    reason: str


# Compact on purpose so the vocabulary stays reviewable in one screen per category:
# category: (median price, lognormal sigma, min, max, "variants", "features",
#            {sub-category: (product noun, price factor, "use-cases", "Brand: model, model; Brand: ...")})
_SubSpec = tuple[str, float, str, str]
_SPEC: dict[str, tuple[float, float, float, float, str, str, dict[str, _SubSpec]]] = {
    "Laptops": (1100, 0.4, 250, 5000, "16GB RAM|32GB RAM|512GB SSD|1TB SSD|(2024)",
                "a long-lasting battery|a vivid OLED display|a fast NVMe SSD|a backlit keyboard", {
        "Gaming Laptops": ("Gaming Laptop", 1.35, "gaming|machine learning|streaming|3D rendering",
            "ASUS: ROG Zephyrus G14, ROG Strix G16; Lenovo: Legion Pro 5; MSI: Raider GE78; Dell: Alienware m16"),
        "Ultrabooks": ("Ultrabook", 1.15, "business travel|students|software development|remote work",
            "Apple: MacBook Air 13 M3, MacBook Air 15 M3; Dell: XPS 13, XPS 14; ASUS: ZenBook 14 OLED"),
        "Workstation Laptops": ("Workstation Laptop", 1.8, "machine learning|video editing|data science|CAD",
            "Apple: MacBook Pro 14 M3, MacBook Pro 16 M3 Max; Dell: Precision 5690; Lenovo: ThinkPad P1"),
        "Business Laptops": ("Business Laptop", 1.0, "business travel|remote work|office work|video calls",
            "Lenovo: ThinkPad X1 Carbon, ThinkPad T14; Dell: Latitude 7440; HP: EliteBook 840"),
        "Student Laptops": ("Laptop", 0.55, "students|online classes|note-taking|everyday browsing",
            "Acer: Aspire 5, Swift Go 14; ASUS: VivoBook 15; HP: Pavilion 15; Lenovo: IdeaPad Slim 3")}),
    "Phones": (700, 0.4, 90, 2000, "128GB|256GB|512GB|Dual SIM",
               "a 120Hz OLED display|a triple-lens camera|all-day battery life|fast charging", {
        "Flagship Phones": ("Smartphone", 1.4, "photography|mobile gaming|business|content creation",
            "Apple: iPhone 16 Pro, iPhone 15 Pro Max; Samsung: Galaxy S24 Ultra; Google: Pixel 9 Pro"),
        "Budget Phones": ("Smartphone", 0.35, "students|seniors|everyday use|first-time smartphone users",
            "Samsung: Galaxy A15, Galaxy A35; Xiaomi: Redmi Note 13, Poco X6; Motorola: Moto G84"),
        "Foldable Phones": ("Foldable Phone", 2.0, "multitasking|business|reading on the go|content creation",
            "Samsung: Galaxy Z Fold6, Galaxy Z Flip6; Google: Pixel 9 Pro Fold; Motorola: Razr 50 Ultra"),
        "Mid-range Phones": ("Smartphone", 0.75, "social media|students|photography|everyday use",
            "Google: Pixel 8a; Samsung: Galaxy A55; Apple: iPhone SE; OnePlus: Nord 4; Nothing: Phone (2a)")}),
    "Audio": (120, 0.5, 15, 1500, "|Black|Silver|Midnight Blue",
              "active noise cancelling|30-hour battery life|spatial audio|deep bass", {
        "Wireless Headphones": ("Wireless Headphones", 2.2, "commuting|long flights|working from home|music",
            "Sony: WH-1000XM5, ULT Wear; Bose: QuietComfort Ultra; Apple: AirPods Max; Sennheiser: Momentum 4"),
        "Earbuds": ("Wireless Earbuds", 1.2, "running|the gym|commuting|phone calls",
            "Apple: AirPods Pro 2, AirPods 4; Sony: WF-1000XM5; Samsung: Galaxy Buds3 Pro; JBL: Tune Beam"),
        "Portable Speakers": ("Portable Speaker", 0.9, "outdoor parties|the beach|camping|travel",
            "JBL: Charge 5, Flip 6; Bose: SoundLink Flex; Ultimate Ears: Boom 4; Marshall: Emberton III"),
        "Soundbars": ("Soundbar", 3.0, "home cinema|movie nights|gaming|watching sport",
            "Sonos: Arc, Beam Gen 2, Ray; Samsung: HW-Q990D; Bose: Smart Ultra; Sony: HT-A7000"),
        "Studio Headphones": ("Studio Headphones", 1.3, "music production|podcasting|mixing|critical listening",
            "Audio-Technica: ATH-M50x, ATH-M40x; Sennheiser: HD 600; Beyerdynamic: DT 770 Pro")}),
    "Cameras": (800, 0.5, 150, 6000, "|Black|Silver|Creator Kit",
                "4K video recording|image stabilisation|fast autofocus|weather sealing", {
        "Mirrorless Cameras": ("Mirrorless Camera", 1.5, "wildlife photography|weddings|travel|filmmaking",
            "Canon: EOS R6 Mark II, EOS R8; Nikon: Z6 III, Z f; Sony: Alpha 7 IV; Fujifilm: X-T5, X-S20"),
        "Compact Cameras": ("Compact Camera", 0.9, "travel photography|vlogging|street photography|beginners",
            "Fujifilm: X100VI; Sony: RX100 VII, ZV-1 II; Canon: PowerShot G7 X Mark III; Ricoh: GR III"),
        "Action Cameras": ("Action Camera", 0.5, "outdoor adventures|cycling|snowboarding|vlogging",
            "GoPro: HERO12 Black, HERO11 Mini; DJI: Osmo Action 4, Osmo Pocket 3; Insta360: X4, Ace Pro"),
        "Camera Lenses": ("Lens", 1.0, "portraits|landscape photography|wildlife photography|events",
            "Canon: RF 24-70mm f/2.8, RF 50mm f/1.8; Nikon: Z 24-120mm f/4; Sigma: 18-50mm f/2.8 DC"),
        "Drones": ("Drone", 1.1, "aerial photography|real estate videos|travel|filmmaking",
            "DJI: Mini 4 Pro, Air 3, Mavic 3 Pro; Autel: EVO Lite+")}),
    "Gaming": (90, 0.5, 10, 1000, "|Black|White|Special Edition",
               "low-latency wireless|customisable RGB lighting|an ergonomic design|long battery life", {
        "Consoles": ("Console", 5.0, "gaming|family fun|couch co-op|streaming",
            "Sony: PlayStation 5 Slim, PlayStation 5 Pro; Microsoft: Xbox Series X; Nintendo: Switch OLED"),
        "Controllers": ("Controller", 0.8, "gaming|PC gaming|racing games|couch co-op",
            "Sony: DualSense, DualSense Edge; Microsoft: Xbox Elite Series 2; 8BitDo: Ultimate"),
        "Gaming Keyboards": ("Gaming Keyboard", 1.3, "gaming|esports|competitive FPS|streaming",
            "Razer: BlackWidow V4, Huntsman V3 Pro; Logitech: G915 TKL; SteelSeries: Apex Pro"),
        "Gaming Mice": ("Gaming Mouse", 0.7, "gaming|esports|competitive FPS|MMO gaming",
            "Logitech: G502 X, G Pro X Superlight 2; Razer: DeathAdder V3, Basilisk V3; Corsair: M65"),
        "Gaming Headsets": ("Gaming Headset", 1.2, "gaming|streaming|esports|late-night sessions",
            "SteelSeries: Arctis Nova 7, Arctis Nova Pro; Razer: Kraken V3; HyperX: Cloud III")}),
    "Home": (150, 0.6, 10, 2000, "|White|Black|2-Pack",
             "app control|a minimalist design|energy-efficient operation|easy setup", {
        "Vacuum Cleaners": ("Vacuum Cleaner", 2.2, "pet owners|homes with carpets|busy families|allergies",
            "Dyson: V15 Detect, Gen5detect; Shark: Stratos; iRobot: Roomba j7+; Roborock: S8 Pro Ultra"),
        "Smart Lighting": ("Smart Bulb", 0.25, "smart homes|cosy evenings|home offices|gaming setups",
            "Philips: Hue White and Colour, Hue Go; LIFX: Colour A19; Nanoleaf: Essentials; IKEA: TRÅDFRI"),
        "Air Purifiers": ("Air Purifier", 1.6, "allergy sufferers|pet owners|bedrooms|city apartments",
            "Dyson: Purifier Cool TP07; Philips: Series 3000i; Levoit: Core 300S, Core 600S; Blueair: 211+"),
        "Smart Speakers": ("Smart Speaker", 0.6, "smart homes|kitchens|music lovers|hands-free control",
            "Amazon: Echo Dot, Echo Show 8; Google: Nest Mini, Nest Hub; Apple: HomePod mini; Sonos: Era 100"),
        "Office Chairs": ("Office Chair", 3.0, "home offices|long workdays|gamers|good posture",
            "Herman Miller: Aeron, Embody; Steelcase: Leap V2; IKEA: MARKUS; Secretlab: Titan Evo")}),
    "Kitchen": (90, 0.6, 8, 2500, "|Stainless Steel|Matte Black|Cream",
                "dishwasher-safe parts|multiple presets|a compact footprint|easy cleaning", {
        "Coffee Machines": ("Coffee Machine", 3.0, "espresso lovers|busy mornings|home baristas|small offices",
            "De'Longhi: Magnifica S, Dedica Style; Breville: Barista Express; Nespresso: Vertuo Next"),
        "Stand Mixers": ("Stand Mixer", 3.5, "baking|bread making|busy families|cake decorating",
            "KitchenAid: Artisan, Classic; Kenwood: Chef XL, kMix; Smeg: SMF02; Bosch: MUM5"),
        "Air Fryers": ("Air Fryer", 1.1, "healthy cooking|quick dinners|meal prep|small kitchens",
            "Ninja: Foodi Dual Zone, Air Fryer Max; Philips: Airfryer XXL; Tefal: Easy Fry; Cosori: Pro LE"),
        "Blenders": ("Blender", 1.0, "smoothies|meal prep|soups|healthy breakfasts",
            "Vitamix: E310, A3500; Ninja: Professional; NutriBullet: Pro 900; Bosch: VitaPower"),
        "Cookware": ("Pan", 0.8, "everyday cooking|searing steaks|home cooks|induction hobs",
            "Le Creuset: Signature Cast Iron, Toughened Non-Stick; Tefal: Ingenio; Lodge: Cast Iron")}),
    "Sports": (80, 0.5, 8, 1500, "|Black|Blue|Red|White",
               "lightweight construction|a durable build|breathable materials|excellent grip", {
        "Running Shoes": ("Running Shoes", 1.6, "running|marathon training|daily jogging|race day",
            "Nike: Pegasus 41, Vomero 17; Adidas: Ultraboost 5; Asics: Gel-Kayano 31; Brooks: Ghost 16"),
        "Training Shoes": ("Training Shoes", 1.3, "the gym|CrossFit|weightlifting|HIIT workouts",
            "Nike: Metcon 9, Free Metcon 5; Reebok: Nano X4; Adidas: Dropset 3; NOBULL: Trainer+"),
        "Hiking Boots": ("Hiking Boots", 1.8, "hiking|trekking|muddy trails|outdoor adventures",
            "Salomon: X Ultra 4 GTX, Quest 4; Merrell: Moab 3; Adidas: Terrex Swift R3; Scarpa: Zodiac"),
        "Yoga Mats": ("Yoga Mat", 0.6, "yoga|pilates|home workouts|stretching",
            "Manduka: PRO, PROlite; Lululemon: The Mat 5mm; Liforme: Original; Gaiam: Premium"),
        "Racket Sports": ("Racket", 1.8, "tennis|badminton|club players|beginners",
            "Wilson: Pro Staff 97, Clash 100; Babolat: Pure Drive, Pure Aero; Yonex: EZONE 100, Astrox 88D")}),
    "Fashion": (60, 0.5, 5, 1500, "Black|Navy|Olive|Grey|Off-White",
                "organic cotton|a relaxed fit|recycled materials|a timeless cut", {
        "Jeans": ("Jeans", 1.2, "everyday wear|weekends|casual Fridays|travel",
            "Levi's: 501 Original, 511 Slim; Wrangler: Texas Stretch; Lee: Rider; Uniqlo: Selvedge"),
        "Jackets": ("Jacket", 3.0, "cold weather|hiking|city commutes|winter travel",
            "The North Face: Nuptse, Thermoball Eco; Patagonia: Nano Puff; Arc'teryx: Atom Hoody"),
        "T-Shirts": ("T-Shirt", 0.4, "everyday wear|layering|summer|the office",
            "Uniqlo: AIRism, Supima Cotton; H&M: Essentials; Ralph Lauren: Custom Slim; COS: Heavyweight"),
        "Sweaters": ("Sweater", 1.3, "cold weather|the office|layering|autumn weekends",
            "Patagonia: Better Sweater; Ralph Lauren: Cable-Knit; Uniqlo: Merino Crew Neck; Zara: Knit"),
        "Sneakers": ("Sneakers", 1.6, "everyday wear|city walks|streetwear|weekends",
            "Nike: Air Force 1, Air Max 90; Adidas: Samba OG, Stan Smith; New Balance: 550; Veja: V-10")}),
    "Beauty": (25, 0.45, 3, 400, "|Travel Size|Value Pack|Refill",
               "hyaluronic acid|a fragrance-free formula|ceramides|vitamin E", {
        "Serums": ("Face Serum", 1.5, "anti-ageing|dull skin|dry skin|daily use",
            "The Ordinary: Niacinamide 10% + Zinc 1%; Estée Lauder: Advanced Night Repair; L'Oréal: Revitalift"),
        "Moisturisers": ("Moisturiser", 1.0, "dry skin|sensitive skin|daily use|night-time routines",
            "CeraVe: Moisturising Cream, PM Facial Lotion; Clinique: Moisture Surge; Neutrogena: Hydro Boost"),
        "Foundation": ("Foundation", 1.2, "a natural look|long-lasting wear|oily skin|special occasions",
            "Maybelline: Fit Me, SuperStay 24H; L'Oréal: True Match; Estée Lauder: Double Wear"),
        "Mascara": ("Mascara", 0.7, "voluminous lashes|a natural look|everyday wear|long-lasting wear",
            "Maybelline: Lash Sensational, Sky High; L'Oréal: Telescopic; Benefit: They're Real!"),
        "Cleansers": ("Cleanser", 0.6, "oily skin|sensitive skin|removing makeup|daily use",
            "CeraVe: Hydrating Facial, Foaming Facial; La Roche-Posay: Effaclar; Cetaphil: Gentle Skin")}),
    "Books": (18, 0.35, 3, 150, "Paperback|Hardcover|Illustrated Edition|Anniversary Edition",
              "a new foreword|a durable binding|an author interview|a reading guide", {
        "Fiction": ("Novel", 0.8, "book clubs|holiday reading|students|literature lovers",
            "Penguin: Pride and Prejudice, 1984; Vintage: Norwegian Wood, Beloved; Bloomsbury: The Kite Runner"),
        "Non-Fiction": ("Book", 1.1, "curious minds|students|self-improvement|commutes",
            "Penguin: Thinking Fast and Slow, Quiet; Vintage: Sapiens; Random House: Atomic Habits, Educated"),
        "Programming": ("Programming Book", 2.5, "machine learning|software developers|students|data science",
            "O'Reilly: Fluent Python, Hands-On Machine Learning; Manning: Deep Learning with Python"),
        "Cookbooks": ("Cookbook", 1.4, "home cooks|weeknight dinners|baking|vegetarians",
            "Ebury Press: Ottolenghi Simple, Jerusalem; Simon & Schuster: Salt Fat Acid Heat; DK: Baking"),
        "Children's Books": ("Children's Book", 0.6, "bedtime reading|young readers|kids aged 3+|gifts",
            "Puffin: The Very Hungry Caterpillar, Matilda; Macmillan: The Gruffalo; Scholastic: Dog Man")}),
    "Toys": (35, 0.6, 4, 800, "|Deluxe Edition|Gift Set",
             "durable materials|bright colours|clear instructions|hours of replay value", {
        "Building Sets": ("Building Set", 1.8, "kids aged 8+|collectors|creative play|family building",
            "LEGO: Technic, City Police Station, Star Wars Millennium Falcon; Playmobil: City Life"),
        "Board Games": ("Board Game", 1.0, "family game night|parties|kids aged 8+|strategy fans",
            "Hasbro: Monopoly, Cluedo; Mattel: Scrabble, Pictionary; Asmodee: Catan, Ticket to Ride"),
        "Action Figures": ("Action Figure", 0.6, "collectors|kids aged 4+|imaginative play|birthday gifts",
            "Hasbro: Marvel Legends, Star Wars Black Series; Mattel: WWE Elite; McFarlane: DC Multiverse"),
        "Puzzles": ("Jigsaw Puzzle", 0.5, "puzzle lovers|rainy days|family time|mindful relaxation",
            "Ravensburger: Disney Collector's Edition 1000pc; Clementoni: Museum Collection; Gibsons: 1000pc"),
        "Educational Toys": ("Learning Toy", 0.9, "toddlers|preschoolers|early learning|STEM learning",
            "Fisher-Price: Laugh & Learn; LeapFrog: LeapStart; VTech: KidiZoom; LEGO: DUPLO")}),
    "Tablets": (450, 0.4, 60, 2500, "64GB|128GB|256GB|Wi-Fi + Cellular",
                "a glare-free screen|stylus support|a laminated display|long battery life", {
        "Standard Tablets": ("Tablet", 1.0, "streaming|students|note-taking|travel",
            "Apple: iPad 10th Gen, iPad Air 11; Samsung: Galaxy Tab S9 FE; Lenovo: Tab P12; Xiaomi: Pad 6"),
        "Pro Tablets": ("Pro Tablet", 2.3, "digital art|video editing|business|note-taking",
            "Apple: iPad Pro 13 M4, iPad Pro 11 M4; Samsung: Galaxy Tab S9 Ultra; Microsoft: Surface Pro 11"),
        "Kids Tablets": ("Kids Tablet", 0.3, "kids|road trips|early learning|kids aged 3+",
            "Amazon: Fire HD 8 Kids, Fire HD 10 Kids Pro; Lenovo: Tab M10 Kids; LeapFrog: Epic Academy"),
        "E-Readers": ("E-Reader", 0.35, "reading|book lovers|travel|reading in bed",
            "Amazon: Kindle Paperwhite, Kindle Scribe; Kobo: Clara 2E, Libra Colour; PocketBook: Era")}),
    "Wearables": (250, 0.45, 30, 1200, "|Black|Silver|Graphite|Titanium",
                  "heart-rate monitoring|sleep tracking|water resistance|a multi-day battery", {
        "Smartwatches": ("Smartwatch", 1.4, "everyday fitness|health monitoring|staying connected|business",
            "Apple: Watch Series 9, Watch Ultra 2; Samsung: Galaxy Watch 6; Google: Pixel Watch 3"),
        "Fitness Trackers": ("Fitness Tracker", 0.45, "everyday fitness|step counting|sleep tracking|beginners",
            "Fitbit: Charge 6, Inspire 3; Xiaomi: Smart Band 9; Garmin: Vivosmart 5; Whoop: 4.0"),
        "GPS Running Watches": ("GPS Watch", 1.5, "running|triathlon training|trail running|marathon training",
            "Garmin: Forerunner 265, Fenix 7 Pro; Polar: Vantage V3; Coros: Pace 3; Suunto: Race"),
        "Smart Rings": ("Smart Ring", 1.2, "sleep tracking|recovery tracking|health monitoring|discreet wear",
            "Oura: Gen3 Horizon, Gen3 Heritage; Samsung: Galaxy Ring; Ultrahuman: Ring Air")}),
}

_ADJECTIVES = ["Lightweight", "Premium", "Compact", "Durable", "Versatile", "High-performance",
               "Award-winning", "Stylish", "Reliable", "Eco-friendly", "Sleek", "Best-selling"]


def _brands(spec: str) -> list[tuple[str, list[str]]]:
    pairs = (part.split(":", 1) for part in spec.split(";"))
    return [(brand.strip(), [m.strip() for m in models.split(",")]) for brand, models in pairs]


def _lower_noun(noun: str) -> str:
    """Lower-case a noun for mid-sentence use while keeping acronyms such as GPS intact."""
    return " ".join(w if w.isupper() else w.lower() for w in noun.split())


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _ragged(groups: list[list[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Flatten ragged vocabularies so per-row picks vectorise as offset + scaled uniform."""
    lens = np.array([len(g) for g in groups], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    return [v for g in groups for v in g], offsets, lens


def _pick(rng: np.random.Generator, group: np.ndarray, offsets: np.ndarray, lens: np.ndarray) -> np.ndarray:
    return offsets[group] + (rng.random(group.size) * lens[group]).astype(np.int64)


def _frame(ids: list[str], names: list[str], brands: list[str], categories: list[list[str]],
           prices: Any, descriptions: list[str]) -> pd.DataFrame:
    """Build frames one way for generator and loader so their dtypes always match."""
    return pd.DataFrame({
        "id": pd.Series(ids, dtype=str), "name": pd.Series(names, dtype=str),
        "brand": pd.Series(brands, dtype=str), "categories": pd.Series(categories, dtype=object),
        "price": pd.Series(prices, dtype=np.float64), "description": pd.Series(descriptions, dtype=str),
    })


def generate_catalog(n_products: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Generate a reproducible catalogue; every draw comes from one seeded Generator, in fixed order."""
    if isinstance(n_products, bool) or not isinstance(n_products, (int, np.integer)) or n_products < 1:
        raise ValueError(f"n_products: expected a positive integer, got {n_products!r}")
    n = int(n_products)
    rng = np.random.default_rng(seed)
    tops = list(_SPEC)
    cat_params = np.array([_SPEC[t][:4] for t in tops], dtype=np.float64)
    subs = [(t, s, *spec) for t in tops for s, spec in _SPEC[t][6].items()]
    sub_names, sub_off, sub_len = _ragged([list(_SPEC[t][6]) for t in tops])
    nouns = [noun for _, _, noun, _, _, _ in subs]
    sub_factor = np.array([factor for _, _, _, factor, _, _ in subs])
    brand_lists = [_brands(spec) for *_, spec in subs]
    brand_names, brand_off, brand_len = _ragged([[b for b, _ in bl] for bl in brand_lists])
    models, model_off, model_len = _ragged([m for bl in brand_lists for _, m in bl])
    uses, use_off, use_len = _ragged([u.split("|") for *_, u, _ in subs])
    variants, var_off, var_len = _ragged([_SPEC[t][4].split("|") for t in tops])
    features, feat_off, feat_len = _ragged([_SPEC[t][5].split("|") for t in tops])

    cat = rng.integers(0, len(tops), size=n)
    sub = _pick(rng, cat, sub_off, sub_len)
    brand = _pick(rng, sub, brand_off, brand_len)
    model = _pick(rng, brand, model_off, model_len)
    variant = _pick(rng, cat, var_off, var_len)
    feature = _pick(rng, cat, feat_off, feat_len)
    use1 = _pick(rng, sub, use_off, use_len)
    shift = 1 + (rng.random(n) * (use_len[sub] - 1)).astype(np.int64)
    use2 = use_off[sub] + (use1 - use_off[sub] + shift) % use_len[sub]
    adjective = rng.integers(0, len(_ADJECTIVES), size=n)
    template = rng.integers(0, 3, size=n)
    second = rng.random(n) < 0.6

    median, sigma, lo, hi = (cat_params[cat, k] for k in range(4))
    raw = np.clip(median * sub_factor[sub] * np.exp(sigma * rng.standard_normal(n)), lo, hi)
    charm = np.maximum(np.floor(raw) - 0.01, lo)  # retail-style .99 endings for prices above 10
    prices = np.round(np.where(raw >= 10, charm, raw), 2)

    lower_nouns = [_lower_noun(x) for x in nouns]
    width = max(5, len(str(n)))
    ids = [f"prod_{i:0{width}d}" for i in range(1, n + 1)]
    names, descriptions = [], []
    for b, m, v, s, f, u1, u2, a, t, two in zip(
            brand.tolist(), model.tolist(), variant.tolist(), sub.tolist(), feature.tolist(),
            use1.tolist(), use2.tolist(), adjective.tolist(), template.tolist(), second.tolist()):
        names.append(" ".join(p for p in (brand_names[b], models[m], variants[v], nouns[s]) if p))
        adj, noun = _ADJECTIVES[a], lower_nouns[s]
        if t == 0:
            text = f"{adj} {noun} from {brand_names[b]} with {features[f]}, ideal for {uses[u1]}."
        elif t == 1:
            text = f"{_article(adj).title()} {adj.lower()} {noun} with {features[f]}, built for {uses[u1]}."
        else:
            text = f"The {models[m]} pairs {features[f]} with {_article(noun)} {noun} designed for {uses[u1]}."
        descriptions.append(text + (f" Also a great choice for {uses[u2]}." if two else ""))
    categories = [[tops[c], sub_names[s]] for c, s in zip(cat.tolist(), sub.tolist())]
    brands = [brand_names[b] for b in brand.tolist()]
    return _frame(ids, names, brands, categories, prices, descriptions)


def _parse_price(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def load_catalog_csv(path: str | Path) -> tuple[pd.DataFrame, list[RowError]]:
    """Load a user catalogue, skipping bad rows and returning them as RowErrors users can act on.

    Duplicates are checked against rows already accepted, so returned ids are always unique.
    """
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{path}: missing required column(s): {', '.join(missing)}")

    def column(name: str) -> list[str]:
        return raw[name].astype(str).str.strip().tolist() if name in raw.columns else [""] * len(raw)

    errors: list[RowError] = []
    seen: dict[str, int] = {}
    out: dict[str, list[Any]] = {c: [] for c in CATALOG_COLUMNS}
    rows = zip(column("id"), column("name"), column("brand"), column("categories"),
               column("price"), column("description"))
    for row_no, (pid, name, brand, cats, price_text, desc) in enumerate(rows, start=1):
        reasons = []
        if not pid:
            reasons.append("id: missing or empty")
        elif pid in seen:
            reasons.append(f"id: duplicate of row {seen[pid]} ({pid!r})")
        if not name:
            reasons.append("name: missing or empty")
        price = _parse_price(price_text)
        if price is None:
            reasons.append(f"price: expected a non-negative number, got {price_text!r}")
        if reasons:
            errors.append(RowError(row_no, "; ".join(reasons)))
            continue
        seen[pid] = row_no
        for key, value in (("id", pid), ("name", name), ("brand", brand), ("price", price),
                           ("description", desc)):
            out[key].append(value)
        out["categories"].append([c.strip() for c in _CATEGORY_SPLIT.split(cats) if c.strip()])

    if errors:
        first = "; ".join(f"row {e.row}: {e.reason}" for e in errors[:_MAX_LOGGED_REASONS])
        logger.warning("Skipped %d of %d rows in %s (first: %s)", len(errors), len(raw), path, first)
    frame = _frame(out["id"], out["name"], out["brand"], out["categories"], out["price"],
                   out["description"])
    return frame, errors


def save_catalog(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a catalogue in exactly the CSV format load_catalog_csv reads back."""
    missing = [c for c in CATALOG_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"catalogue is missing column(s): {', '.join(missing)}")
    out = df[CATALOG_COLUMNS].copy()
    out["categories"] = [
        "|".join(str(c) for c in v) if isinstance(v, (list, tuple, np.ndarray))
        else "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        for v in out["categories"]
    ]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(target, index=False, encoding="utf-8")
    logger.info("Saved %d products to %s", len(out), target)
    return target
